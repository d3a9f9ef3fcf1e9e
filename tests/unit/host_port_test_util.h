// Checks shared by the tests of the host-port parsers (PORT/227, LPRT/228).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>

#include "ftpalg/parse_error.h"
#include "ftpalg/port_command.h"

namespace ftpalg::test_util {

// A successful parse: the endpoint, and the span of the text that names it (what a rewrite
// replaces).
inline void ExpectHostPort(const HostPortResult& result, const Endpoint& endpoint, size_t begin,
                           size_t end) {
  ASSERT_TRUE(result.ok()) << ParseErrorName(result.error);
  EXPECT_EQ(result.value.endpoint, endpoint);
  EXPECT_EQ(result.value.begin, begin);
  EXPECT_EQ(result.value.end, end);
}

}  // namespace ftpalg::test_util

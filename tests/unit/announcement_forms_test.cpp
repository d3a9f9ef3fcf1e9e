#include "ftpalg/announcement_forms.h"

#include <gtest/gtest.h>

#include <set>

#include "engine_test_util.h"
#include "ftpalg/expectation_builder.h"

namespace ftpalg {
namespace {

TEST(AnnouncementFormsTest, EveryRowIsFoundByItsVerbOrCodeAndCause) {
  std::set<std::string_view> names;
  for (const AnnouncementForm& form : AnnouncementForms()) {
    SCOPED_TRACE(form.name);
    EXPECT_TRUE(names.insert(form.name).second);
    EXPECT_EQ(&FormOf(form.cause), &form);
    EXPECT_EQ(ExpectCauseName(form.cause), form.name);
    EXPECT_EQ(AnnouncerDirection(form.cause), form.announcer);
    if (form.announcer == Direction::kOriginal) {
      // A command form: announced by its verb, answers nothing.
      EXPECT_EQ(FindCommandForm(form.verb), &form);
      EXPECT_EQ(CommandVerbName(form.verb), form.name);
      EXPECT_EQ(form.reply_code, 0);
      EXPECT_EQ(form.answers, CommandVerb::kOther);
    } else {
      // A reply form: announced by its code, only as the answer to its command.
      EXPECT_EQ(FindReplyForm(form.reply_code), &form);
      EXPECT_EQ(std::to_string(form.reply_code), form.name);
      EXPECT_EQ(form.verb, CommandVerb::kOther);
      EXPECT_NE(form.answers, CommandVerb::kOther);
    }
  }
  EXPECT_EQ(names, (std::set<std::string_view>{"PORT", "EPRT", "227", "229", "LPRT", "228"}));
  EXPECT_EQ(FindCommandForm(CommandVerb::kPasv), nullptr);
  EXPECT_EQ(FindCommandForm(CommandVerb::kOther), nullptr);
  EXPECT_EQ(FindReplyForm(230), nullptr);
  EXPECT_EQ(FindReplyForm(0), nullptr);
}

struct RoundTrip {
  ExpectCause cause;
  ControlConnection control;
  std::string_view text;            // a command's argument or a whole reply line
  std::string_view rewritten_span;  // the span's text after format() with the new endpoint
};

TEST(AnnouncementFormsTest, ParseThenFormatRewritesExactlyTheSpan) {
  const Endpoint v4_public = test::Ep("198.51.100.1", 1026);
  const Endpoint v6_public = test::Ep("2001:db8:2::1", 1026);
  const RoundTrip cases[] = {
      {ExpectCause::kPort, test::Masqueraded(), "192,0,2,2,4,1", "198,51,100,1,4,2"},
      {ExpectCause::kEprt, test::Masqueraded(), "!1!192.0.2.2!1025!", "1!198.51.100.1!1026"},
      {ExpectCause::k227, test::Published(), "227 Entering Passive Mode (192,0,2,10,4,1).",
       "198,51,100,1,4,2"},
      {ExpectCause::k229, test::Published(Family::kIpv6), "229 ok (|||1025|)", "1026"},
      {ExpectCause::kLprt, test::Masqueraded(), "4,4,192,0,2,2,2,4,1", "4,4,198,51,100,1,2,4,2"},
      {ExpectCause::k228, test::Published(Family::kIpv6),
       "228 Long (6,16,32,1,13,184,0,1,0,0,0,0,0,0,0,0,0,16,2,4,1)",
       "6,16,32,1,13,184,0,2,0,0,0,0,0,0,0,0,0,1,2,4,2"},
  };
  for (const RoundTrip& c : cases) {
    const AnnouncementForm& form = FormOf(c.cause);
    SCOPED_TRACE(form.name);
    const HostPortResult parsed = form.parse(c.text, c.control);
    ASSERT_TRUE(parsed.ok()) << ParseErrorName(parsed.error);
    const std::string_view span =
        c.text.substr(parsed.value.begin, parsed.value.end - parsed.value.begin);
    // The announced endpoint written back gives the span byte for byte.
    EXPECT_EQ(form.format(parsed.value.endpoint, span), span);
    const Endpoint outside = c.control.original.family() == Family::kIpv4 ? v4_public : v6_public;
    EXPECT_EQ(form.format(outside, span), c.rewritten_span);
  }
}

TEST(AnnouncementFormsTest, Rfc959FormsAreIpv4Only) {
  EXPECT_EQ(FormOf(ExpectCause::kPort).only_family, Family::kIpv4);
  EXPECT_EQ(FormOf(ExpectCause::k227).only_family, Family::kIpv4);
  EXPECT_FALSE(FormOf(ExpectCause::kLprt).only_family.has_value());
  EXPECT_FALSE(FormOf(ExpectCause::k228).only_family.has_value());
}

}  // namespace
}  // namespace ftpalg

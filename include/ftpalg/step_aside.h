// When the engine stops parsing a control connection for good, and what it does then: a TLS
// upgrade (nothing after it is readable) or a connection that is not FTP (NAT slipstreaming).
#pragma once

#include <string_view>

#include "ftpalg/command_pairing.h"
#include "ftpalg/engine_context.h"
#include "ftpalg/ftp_command.h"

namespace ftpalg {

// NAT slipstreaming defence: before the login, every client line must be an FTP command (RFC 959
// 5.3 syntax). An HTTP request smuggled onto port 21 fails that on its first header line, so the
// connection is set aside before any PORT line in the request body is reached.
bool IsNotFtp(const CommandLine& command, bool overlong);

// RFC 4217 4 / RFC 2228 3: 234 accepts AUTH TLS/SSL; the next bytes are a TLS handshake and the
// commands that follow are encrypted (CCC happens inside TLS and cannot be seen).
bool StartsTls(int code, const AnsweredCommand& answered, const PolicyConfig& policy);

// Sets the session aside (`cause`: the verb or line that made it so): nothing of it is parsed any
// more, so none of its pending expectations may stay open.
void StepAsideSession(const EngineContext& context, PacketWork& work, StepAside why,
                      std::string_view cause);

}  // namespace ftpalg

// What the gateway is willing to open. Every rule can be switched off; all are on by default.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ftpalg {

struct PolicyConfig {
  // RFC 959 4.1.2 lets PORT name any host, which is the FTP bounce attack (RFC 2577 3). The data
  // address in PORT/EPRT must be the control connection's client, in 227 its server.
  bool require_same_address = true;
  // Ports below 1024 are privileged services (RFC 2577 3 recommends refusing them).
  bool refuse_low_ports = true;
  // A 227/229 is acted on only as the answer to the client's PASV/EPSV (RFC 959 4.2 pairs every
  // reply with the command it answers).
  bool require_paired_reply = true;
  // PORT/EPRT are acted on only after the server accepted the login (230), and a client line that
  // is not an FTP command before that marks the connection as not FTP (NAT slipstreaming).
  bool require_login = true;
  // After AUTH TLS/SSL is accepted (234, RFC 4217 / RFC 2228), nothing more is parsed.
  bool step_aside_on_tls = true;
  // Pending (not yet used) expectations per control connection; the oldest is replaced first.
  size_t max_pending_expectations = 4;
  // What the gateway asks the kernel for (the helper's expectation policy on a live gateway).
  uint32_t expectation_timeout_seconds = 300;
};

}  // namespace ftpalg

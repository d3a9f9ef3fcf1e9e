#include "ftpalg/expectation_builder.h"

#include "ftpalg/announcement_forms.h"

namespace ftpalg {

Direction AnnouncerDirection(ExpectCause cause) { return FormOf(cause).announcer; }

IpAddress AnnouncerAddress(const ControlConnection& control, Direction announcer) {
  return announcer == Direction::kOriginal ? control.original.src.addr : control.reply.src.addr;
}

IpAddress AnnouncedAddressAfterNat(const ControlConnection& control, Direction announcer) {
  return announcer == Direction::kOriginal ? control.reply.dst.addr : control.original.dst.addr;
}

bool AnnouncementNeedsNat(const ControlConnection& control, Direction announcer) {
  return AnnouncerAddress(control, announcer) != AnnouncedAddressAfterNat(control, announcer);
}

Expectation BuildExpectation(const ControlConnection& control, ExpectCause cause,
                             const Endpoint& announced, uint16_t outside_port) {
  const Direction announcer = AnnouncerDirection(cause);
  Expectation exp;
  exp.master = control.original;
  exp.master_direction = announcer;
  exp.cause = cause;
  exp.zone = control.zone;
  // The data connection comes from the peer as the gateway sees the peer's packets arrive: the
  // server's real address for active mode (reply.src), the client's own address for passive mode
  // (original.src), before any NAT of the data connection itself.
  exp.source =
      announcer == Direction::kOriginal ? control.reply.src.addr : control.original.src.addr;
  // A third-party address (only with the loose policy) is taken as it stands: there is nothing
  // of ours to translate.
  const bool own_address = announced.addr == AnnouncerAddress(control, announcer);
  exp.destination = Endpoint{
      own_address ? AnnouncedAddressAfterNat(control, announcer) : announced.addr, outside_port};
  // Whenever the control connection is translated, the data connection follows it (the kernel's
  // nf_nat_follow_master): its source becomes the address the peer knows for the announcer's
  // side, its destination the announced endpoint. This holds even when the announcer's own side
  // is not translated (an outside client's PORT to a DNAT-published server: the server's data
  // connection must leave from the published address).
  if (own_address && (control.Translated() || outside_port != announced.port)) {
    exp.nat_to = announced;
    exp.nat_direction = Opposite(announcer);
  }
  return exp;
}

}  // namespace ftpalg

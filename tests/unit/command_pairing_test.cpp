#include "ftpalg/command_pairing.h"

#include <gtest/gtest.h>

namespace ftpalg {
namespace {

PendingCommand Command(CommandVerb verb) {
  PendingCommand command;
  command.verb = verb;
  return command;
}

TEST(CommandPairingTest, RepliesAnswerCommandsInOrder) {
  CommandPairing pairing;
  pairing.Push(Command(CommandVerb::kUser));
  pairing.Push(Command(CommandVerb::kPasv));  // pipelined
  const AnsweredCommand first = pairing.TakeAnswered();
  EXPECT_TRUE(first.Is(CommandVerb::kUser));
  const AnsweredCommand second = pairing.TakeAnswered();
  EXPECT_TRUE(second.Is(CommandVerb::kPasv));
  EXPECT_FALSE(second.Is(CommandVerb::kEpsv));
}

TEST(CommandPairingTest, AReplyWithNoCommandWaitingAnswersNothing) {
  CommandPairing pairing;
  const AnsweredCommand answered = pairing.TakeAnswered();
  EXPECT_FALSE(answered.paired);
  EXPECT_FALSE(answered.Is(CommandVerb::kOther));
}

TEST(CommandPairingTest, OverflowLosesPairingForGood) {
  CommandPairing pairing;
  for (size_t i = 0; i <= CommandPairing::kMaxPending; ++i) {
    pairing.Push(Command(CommandVerb::kPasv));
  }
  const AnsweredCommand answered = pairing.TakeAnswered();
  EXPECT_EQ(answered.command.verb, CommandVerb::kPasv);  // a guess, so never acted on
  EXPECT_FALSE(answered.paired);
  pairing.Push(Command(CommandVerb::kPasv));
  EXPECT_FALSE(pairing.TakeAnswered().paired);
}

TEST(CommandPairingTest, NewestIsTheCommandJustPushed) {
  CommandPairing pairing;
  pairing.Push(Command(CommandVerb::kUser));
  pairing.Push(Command(CommandVerb::kPort));
  pairing.newest().expectation_serial = 7;  // the PORT's expectation, withdrawn on a refusal
  pairing.TakeAnswered();
  EXPECT_EQ(pairing.TakeAnswered().command.expectation_serial, 7u);
}

}  // namespace
}  // namespace ftpalg

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
  const AnsweredCommand first = pairing.TakeAnswered(331);
  EXPECT_TRUE(first.Is(CommandVerb::kUser));
  const AnsweredCommand second = pairing.TakeAnswered(227);
  EXPECT_TRUE(second.Is(CommandVerb::kPasv));
  EXPECT_FALSE(second.Is(CommandVerb::kEpsv));
}

TEST(CommandPairingTest, AReplyWithNoCommandWaitingAnswersNothing) {
  CommandPairing pairing;
  const AnsweredCommand answered = pairing.TakeAnswered(200);
  EXPECT_FALSE(answered.paired);
  EXPECT_FALSE(answered.Is(CommandVerb::kOther));
}

TEST(CommandPairingTest, OverflowMakesPairingUnsureUntilAReplyOnlyOneCommandGets) {
  CommandPairing pairing;
  for (size_t i = 0; i <= CommandPairing::kMaxPending; ++i) {
    pairing.Push(Command(CommandVerb::kOther));
  }
  EXPECT_TRUE(pairing.unsure());
  const AnsweredCommand answered = pairing.TakeAnswered(200);
  EXPECT_EQ(answered.command.verb, CommandVerb::kOther);  // a guess, so never acted on
  EXPECT_FALSE(answered.paired);
  pairing.Push(Command(CommandVerb::kPasv));
  EXPECT_TRUE(pairing.TakeAnswered(227).Is(CommandVerb::kPasv));
  EXPECT_FALSE(pairing.unsure());
}

TEST(CommandPairingTest, NewestIsTheCommandJustPushed) {
  CommandPairing pairing;
  pairing.Push(Command(CommandVerb::kUser));
  pairing.Push(Command(CommandVerb::kPort));
  pairing.newest().expectation_serial = 7;  // the PORT's expectation, withdrawn on a refusal
  pairing.TakeAnswered(331);
  EXPECT_EQ(pairing.TakeAnswered(200).command.expectation_serial, 7u);
}

// docs/gaps.md, pairing: the rules after bytes were never seen.
TEST(CommandPairingTest, AfterAGapAReplyWithNoCommandSeenSinceAnswersNothing) {
  CommandPairing pairing;
  pairing.Push(Command(CommandVerb::kPasv));
  pairing.LoseTrack(/*server_side=*/true);  // the 227 may have been in the missing bytes
  EXPECT_FALSE(pairing.TakeAnswered(227).paired);
}

TEST(CommandPairingTest, AfterAGapA227AnswersTheOldestPasvAndResynchronises) {
  CommandPairing pairing;
  pairing.LoseTrack(/*server_side=*/false);
  pairing.Push(Command(CommandVerb::kOther));
  pairing.Push(Command(CommandVerb::kPasv));
  pairing.Push(Command(CommandVerb::kOther));
  const AnsweredCommand answered = pairing.TakeAnswered(227);
  EXPECT_TRUE(answered.Is(CommandVerb::kPasv));  // TYPE's reply was in the missing bytes
  EXPECT_FALSE(pairing.unsure());
  EXPECT_EQ(pairing.TakeAnswered(226).command.verb, CommandVerb::kOther);
}

TEST(CommandPairingTest, AfterAGapA227WithoutAPasvWaitingAnswersNothingAndTakesNothing) {
  CommandPairing pairing;
  pairing.LoseTrack(/*server_side=*/true);
  pairing.Push(Command(CommandVerb::kOther));
  EXPECT_FALSE(pairing.TakeAnswered(227).paired);  // unsolicited: never acted on
  EXPECT_TRUE(pairing.unsure());
  pairing.Push(Command(CommandVerb::kPasv));
  EXPECT_TRUE(pairing.TakeAnswered(227).Is(CommandVerb::kPasv));
}

TEST(CommandPairingTest, AfterAServerSideGapTheNextCommandSentIsAnsweredByTheNextReply) {
  CommandPairing pairing;
  pairing.Push(Command(CommandVerb::kOther));
  pairing.LoseTrack(/*server_side=*/true);  // TYPE's 200 was in the missing bytes
  pairing.Push(Command(CommandVerb::kPort));
  const AnsweredCommand answered = pairing.TakeAnswered(200);
  EXPECT_TRUE(answered.Is(CommandVerb::kPort));
  EXPECT_FALSE(pairing.unsure());
}

TEST(CommandPairingTest, AfterAClientSideGapTheRepliesToTheLostCommandsAnswerNothing) {
  CommandPairing pairing;
  pairing.LoseTrack(/*server_side=*/false);   // a command was lost; its reply is still to come
  pairing.Push(Command(CommandVerb::kPort));  // sent before that reply: not after a reply
  const AnsweredCommand answered = pairing.TakeAnswered(200);
  EXPECT_FALSE(answered.paired);  // it may be the lost command's: not acted on
}

TEST(CommandPairingTest, AReplyWithoutACodeIsSkippedByTheNextCommandTheClientSends) {
  // Seen in a real capture: SYST answered `UNIX Type: L8`, no code.
  CommandPairing pairing;
  pairing.Push(Command(CommandVerb::kOther));
  pairing.NoteCodelessReply();
  pairing.Push(Command(CommandVerb::kPort));
  EXPECT_TRUE(pairing.TakeAnswered(200).Is(CommandVerb::kPort));
  pairing.Push(Command(CommandVerb::kPasv));
  EXPECT_TRUE(pairing.TakeAnswered(227).Is(CommandVerb::kPasv));
}

}  // namespace
}  // namespace ftpalg

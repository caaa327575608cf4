// Native unit tests of the feed's parser (moldudp64.h) and arbiter (feed_arbiter.h), included
// by native_tests.cc inside its anonymous namespace (its TEST/EXPECT and registry). The arbiter
// gets the clock from the test, so that gap timeouts, retransmission timeouts and stale lines
// are exact here (the JS tests in test/feed-core.test.ts never assert on time).
// (native_tests.cc includes feed_arbiter.h and moldudp64.h at its top.)

// A MoldUDP64 packet: `count` overrides the header's count (0xFFFF: end of session).
std::vector<uint8_t> Mold(uint64_t seq, const std::vector<std::string>& messages,
                          const char* session = "SESSION001", int count = -1) {
  std::vector<uint8_t> p(20, 0);
  std::memcpy(p.data(), session, 10);
  mcast::StoreBe(p.data() + 10, 8, seq);
  mcast::StoreBe(p.data() + 18, 2, count >= 0 ? static_cast<uint64_t>(count) : messages.size());
  for (const std::string& m : messages) {
    p.push_back(static_cast<uint8_t>(m.size() >> 8));
    p.push_back(static_cast<uint8_t>(m.size()));
    p.insert(p.end(), m.begin(), m.end());
  }
  return p;
}

// Records what the arbiter produced, as text, in order.
class FeedRecorder : public mcast::ArbiterSink {
 public:
  std::vector<std::string> out;
  std::vector<uint64_t> delivered;
  std::vector<int64_t> lags;
  void Deliver(uint64_t seq, int line, const uint8_t* data, uint32_t length, int64_t) override {
    delivered.push_back(seq);
    out.push_back(std::to_string(seq) + "@" + std::to_string(line) + ":" +
                  std::string(reinterpret_cast<const char*>(data), length));
  }
  void Gap(uint64_t from, uint64_t to) override {
    out.push_back("gap " + std::to_string(from) + "-" + std::to_string(to));
  }
  void Stale(int line) override { out.push_back("stale " + std::to_string(line)); }
  void Resume(int line) override { out.push_back("resume " + std::to_string(line)); }
  void Reset(int line, mcast::ResetReason reason, const uint8_t* session, const uint8_t*) override {
    out.push_back("reset " + std::to_string(line) + " " + std::to_string(static_cast<int>(reason)) +
                  (session != nullptr ? " " + std::string(reinterpret_cast<const char*>(session), 10) : ""));
  }
  void Request(const uint8_t*, uint64_t from, uint16_t count) override {
    out.push_back("request " + std::to_string(from) + "+" + std::to_string(count));
  }
  void Lag(int line, int64_t ns) override {
    lags.push_back(ns);
    (void)line;
  }
  bool Has(const std::string& s) const { return std::find(out.begin(), out.end(), s) != out.end(); }
};

void Feed(mcast::FeedArbiter* a, int line, const std::vector<uint8_t>& p, int64_t now,
          FeedRecorder* sink, int64_t ts = 0) {
  a->OnDatagram(line, p.data(), p.size(), false, ts, now, sink);
}

TEST(ParsesMoldUdp64PacketsAndRefusesEachMalformedKind) {
  mcast::MoldPacket p;
  std::vector<uint8_t> ok = Mold(7, {"ab", "", "cde"});
  EXPECT(mcast::ParseMoldUdp64(ok.data(), ok.size(), &p) == mcast::ParseStatus::kOk);
  EXPECT(p.sequence == 7 && p.count == 3 && p.messages_count() == 3);
  mcast::MoldMessages walk(p);
  const uint8_t* data = nullptr;
  uint16_t length = 0;
  std::string joined;
  int n = 0;
  while (walk.Next(&data, &length)) {
    joined += std::string(reinterpret_cast<const char*>(data), length) + "|";
    n++;
  }
  EXPECT(n == 3 && joined == "ab||cde|");
  // The message views point into the datagram: no copy.
  EXPECT(p.messages == ok.data() + 20);

  std::vector<uint8_t> beat = Mold(9, {});
  EXPECT(mcast::ParseMoldUdp64(beat.data(), beat.size(), &p) == mcast::ParseStatus::kOk);
  EXPECT(p.heartbeat() && p.messages_count() == 0 && p.sequence == 9);
  std::vector<uint8_t> end = Mold(9, {}, "SESSION001", 0xFFFF);
  EXPECT(mcast::ParseMoldUdp64(end.data(), end.size(), &p) == mcast::ParseStatus::kOk);
  EXPECT(p.end_of_session() && p.messages_count() == 0);

  EXPECT(mcast::ParseMoldUdp64(ok.data(), 19, &p) == mcast::ParseStatus::kShortHeader);
  EXPECT(mcast::ParseMoldUdp64(ok.data(), 0, &p) == mcast::ParseStatus::kShortHeader);
  std::vector<uint8_t> count = Mold(1, {"a"}, "SESSION001", 2);
  EXPECT(mcast::ParseMoldUdp64(count.data(), count.size(), &p) == mcast::ParseStatus::kCountPastEnd);
  std::vector<uint8_t> one_byte = Mold(1, {"a"});
  one_byte.resize(22);  // a length prefix of one byte
  one_byte[18] = 0;
  one_byte[19] = 2;
  EXPECT(mcast::ParseMoldUdp64(one_byte.data(), 21, &p) == mcast::ParseStatus::kCountPastEnd);
  std::vector<uint8_t> length_past = Mold(1, {"abc"});
  length_past.pop_back();
  EXPECT(mcast::ParseMoldUdp64(length_past.data(), length_past.size(), &p) ==
         mcast::ParseStatus::kLengthPastEnd);
  std::vector<uint8_t> max64 = Mold(UINT64_MAX, {"a"});
  EXPECT(mcast::ParseMoldUdp64(max64.data(), max64.size(), &p) == mcast::ParseStatus::kSequenceTooLarge);
  std::vector<uint8_t> wrap = Mold(UINT64_MAX - 1, {"a", "b", "c"});
  EXPECT(mcast::ParseMoldUdp64(wrap.data(), wrap.size(), &p) == mcast::ParseStatus::kSequenceTooLarge);
  // 2^53 - 1 is the last exact number: a packet ending there is fine, one past it is not.
  std::vector<uint8_t> last = Mold(mcast::kMaxSequence - 1, {"a", "b"});
  EXPECT(mcast::ParseMoldUdp64(last.data(), last.size(), &p) == mcast::ParseStatus::kOk);
  std::vector<uint8_t> past = Mold(mcast::kMaxSequence, {"a", "b"});
  EXPECT(mcast::ParseMoldUdp64(past.data(), past.size(), &p) == mcast::ParseStatus::kSequenceTooLarge);
}

TEST(ParsesFixedSequenceFields) {
  const uint8_t d[] = {0xAA, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x00};
  uint64_t seq = 0;
  mcast::FixedField f;
  f = {1, 4, true};
  EXPECT(mcast::ParseFixedSequence(d, sizeof(d), f, &seq) == mcast::ParseStatus::kOk && seq == 0x01020304);
  f = {1, 4, false};
  EXPECT(mcast::ParseFixedSequence(d, sizeof(d), f, &seq) == mcast::ParseStatus::kOk && seq == 0x04030201);
  f = {1, 8, false};
  EXPECT(mcast::ParseFixedSequence(d, sizeof(d), f, &seq) == mcast::ParseStatus::kOk && seq == 0x0007060504030201);
  f = {1, 8, true};
  EXPECT(mcast::ParseFixedSequence(d, sizeof(d), f, &seq) == mcast::ParseStatus::kSequenceTooLarge);
  f = {2, 8, true};
  EXPECT(mcast::ParseFixedSequence(d, sizeof(d), f, &seq) == mcast::ParseStatus::kShortHeader);
  f = {100, 4, true};
  EXPECT(mcast::ParseFixedSequence(d, sizeof(d), f, &seq) == mcast::ParseStatus::kShortHeader);
}

TEST(ArbitratesTwoLinesInOrderWithGapsAfterTheTimeout) {
  mcast::ArbiterConfig c;
  c.gap_timeout_ms = 10;
  mcast::FeedArbiter a(c, 0);
  FeedRecorder s;
  Feed(&a, 0, Mold(1, {"a", "b"}), 0, &s);
  Feed(&a, 1, Mold(2, {"b", "c"}), 0, &s);  // 2 is a duplicate, 3 new
  Feed(&a, 0, Mold(6, {"f"}), 1, &s);       // 4-5 missing since t=1
  Feed(&a, 1, Mold(5, {"e"}), 2, &s);       // 5 waits too... no: 4 still missing
  EXPECT(s.delivered == (std::vector<uint64_t>{1, 2, 3}));
  EXPECT(a.pending() == 2);
  a.Expire(10, &s);  // not yet
  EXPECT(s.delivered.size() == 3);
  a.Expire(11, &s);
  EXPECT(s.out == (std::vector<std::string>{"1@0:a", "2@0:b", "3@1:c", "gap 4-4", "5@1:e", "6@0:f"}));
  EXPECT(a.stats().delivered == 5 && a.stats().gaps == 1 && a.stats().gap_items == 1);
  EXPECT(a.line_stats(0).wins == 3 && a.line_stats(1).wins == 2 && a.line_stats(1).duplicates == 1);
  EXPECT(a.next_sequence() == 7);
  // Late copies after the gap are duplicates, never delivered.
  Feed(&a, 1, Mold(4, {"d"}), 12, &s);
  EXPECT(s.delivered.size() == 5 && a.line_stats(1).duplicates == 2);
  // 1 (A only), 2 (both), 3 (B only), 5 (B only), 6 (A only); 4 was never delivered
  EXPECT(a.RecoveredFromLine() == 4);
}

TEST(BoundsTheWaitingItemsAtMaxPending) {
  mcast::ArbiterConfig c;
  c.gap_timeout_ms = 1000000;
  c.max_pending = 2;
  mcast::FeedArbiter a(c, 0);
  FeedRecorder s;
  Feed(&a, 0, Mold(1, {"a"}), 0, &s);
  Feed(&a, 0, Mold(3, {"c"}), 0, &s);
  Feed(&a, 0, Mold(5, {"e"}), 0, &s);
  EXPECT(a.pending() == 2 && s.delivered.size() == 1);
  Feed(&a, 0, Mold(7, {"g"}), 0, &s);  // the third: 2 is given up, 3 goes, 5 and 7 wait (4 and 6 missing)
  EXPECT(s.out == (std::vector<std::string>{"1@0:a", "gap 2-2", "3@0:c"}));
  EXPECT(a.pending() == 2 && a.stats().overflows == 1 && a.stats().pending_high == 3);
}

TEST(ForgetsNothingAcrossSplitsOfAMissingRange) {
  mcast::ArbiterConfig c;
  c.gap_timeout_ms = 5;
  mcast::FeedArbiter a(c, 0);
  FeedRecorder s;
  Feed(&a, 0, Mold(1, {"1"}), 0, &s);
  Feed(&a, 0, Mold(10, {"10"}), 0, &s);  // 2-9 missing
  Feed(&a, 1, Mold(5, {"5"}), 1, &s);    // splits it: 2-4, 6-9
  Feed(&a, 1, Mold(2, {"2"}), 1, &s);    // 2 goes; 3-4 left
  a.Expire(5, &s);
  EXPECT(s.out == (std::vector<std::string>{"1@0:1", "2@1:2", "gap 3-4", "5@1:5", "gap 6-9", "10@0:10"}));
  EXPECT(a.pending() == 0 && a.stats().gap_items == 6);
}

TEST(RequestsRetransmissionWithRetriesAndARateBound) {
  mcast::ArbiterConfig c;
  c.gap_timeout_ms = 5;
  c.retransmit = true;
  c.retransmit_timeout_ms = 20;
  c.retransmit_retries = 2;
  c.requests_per_second = 1;
  mcast::FeedArbiter a(c, 0);
  FeedRecorder s;
  Feed(&a, 0, Mold(1, {"1"}), 0, &s);
  Feed(&a, 0, Mold(4, {"4"}), 0, &s);  // 2-3 missing
  Feed(&a, 0, Mold(7, {"7"}), 0, &s);  // 5-6 missing
  a.Expire(5, &s);
  EXPECT(s.Has("request 2+2") && !s.Has("request 5+2"));  // one request per second
  EXPECT(a.NextDeadline() == 1000);  // nothing can be asked before the next rate window
  // The answer comes back on the pseudo-line (index lines = 2) and fills 2, not 3.
  Feed(&a, 2, Mold(2, {"r2"}), 6, &s);
  EXPECT(s.Has("2@2:r2") && a.stats().recovered_by_retransmit == 1);
  a.Expire(1000, &s);  // a new window: 5-6 waited longest
  EXPECT(s.Has("request 5+2") && !s.Has("request 3+1"));
  EXPECT(a.stats().requests == 2);
  a.Expire(2000, &s);
  a.Expire(3000, &s);
  a.Expire(4000, &s);
  // 3 asked twice, then a gap; 5-6 asked twice, then a gap: all in order.
  EXPECT(s.Has("gap 3-3") && s.Has("gap 5-6"));
  EXPECT(a.stats().requests == 4);
  EXPECT(s.delivered == (std::vector<uint64_t>{1, 2, 4, 7}));
  // Answers from another session never fill anything.
  Feed(&a, 2, Mold(8, {"x"}, "OTHERSESS1"), 4001, &s);
  EXPECT(s.delivered.size() == 4);
}

TEST(ResetsOnEndOfSessionNewSessionAndRestart) {
  mcast::ArbiterConfig c;
  c.gap_timeout_ms = 5;
  mcast::FeedArbiter a(c, 0);
  FeedRecorder s;
  Feed(&a, 0, Mold(1, {"a"}), 0, &s);
  Feed(&a, 0, Mold(3, {"c"}), 0, &s);  // 2 missing
  Feed(&a, 0, Mold(4, {}, "SESSION001", 0xFFFF), 0, &s);
  Feed(&a, 1, Mold(4, {}, "SESSION001", 0xFFFF), 0, &s);  // the same end: one reset
  Feed(&a, 0, Mold(1, {"n"}, "SESSION002"), 1, &s);       // flushes: 2 is a gap, 3 goes
  Feed(&a, 1, Mold(1, {"a"}), 1, &s);                     // B's old session: dropped
  Feed(&a, 1, Mold(1, {"n", "o"}, "SESSION002"), 1, &s);
  EXPECT(s.out == (std::vector<std::string>{"1@0:a", "reset 0 0", "gap 2-2", "3@0:c",
                                            "reset 0 1 SESSION002", "1@0:n", "2@1:o"}));
  EXPECT(a.line_stats(1).duplicates == 2);
  // A restart: line 0 repeats numbers it sent already.
  Feed(&a, 0, Mold(2, {"o"}, "SESSION002"), 2, &s);
  Feed(&a, 0, Mold(3, {"p"}, "SESSION002"), 2, &s);
  Feed(&a, 0, Mold(1, {"R"}, "SESSION002"), 3, &s);  // held: a restart, or an old copy?
  EXPECT(s.out.back() == "3@0:p");
  Feed(&a, 0, Mold(2, {"R2"}, "SESSION002"), 3, &s);  // the line goes on from it: a restart
  EXPECT(s.out.size() >= 3 && s.out[s.out.size() - 3] == "reset 0 2 SESSION002" &&
         s.out[s.out.size() - 2] == "1@0:R" && s.out.back() == "2@0:R2");
  // Line 1 is still on the old numbers (4 is new there, but not to the restarted stream).
  Feed(&a, 1, Mold(4, {"q"}, "SESSION002"), 3, &s);
  EXPECT(s.out.back() == "2@0:R2");
  Feed(&a, 1, Mold(1, {"S"}, "SESSION002"), 3, &s);  // line 1 goes back too: it joins
  EXPECT(s.out.back() == "2@0:R2" && a.line_stats(1).duplicates == 4);
  Feed(&a, 1, Mold(3, {"T"}, "SESSION002"), 3, &s);
  EXPECT(s.out.back() == "3@1:T");
  // An old copy that the network repeated is no restart: held, then dropped as a duplicate.
  Feed(&a, 0, Mold(4, {"U"}, "SESSION002"), 4, &s);
  Feed(&a, 0, Mold(5, {"V"}, "SESSION002"), 4, &s);
  Feed(&a, 0, Mold(2, {"R2"}, "SESSION002"), 4, &s);
  Feed(&a, 0, Mold(6, {"W"}, "SESSION002"), 4, &s);
  EXPECT(s.out.back() == "6@0:W" && !s.Has("2@0:R2 again"));
  EXPECT(a.line_stats(0).received == a.line_stats(0).wins + a.line_stats(0).duplicates);
}

TEST(ReportsStaleLinesAndTheirReturnAndLag) {
  mcast::ArbiterConfig c;
  c.stale_after_ms = 100;
  mcast::FeedArbiter a(c, 0);
  FeedRecorder s;
  Feed(&a, 0, Mold(1, {"a"}), 50, &s, 1000);
  EXPECT(a.NextDeadline() == 100);  // line 1 has said nothing since creation
  a.Expire(100, &s);
  EXPECT(s.Has("stale 1") && !s.Has("stale 0"));
  Feed(&a, 1, Mold(1, {"a"}), 120, &s, 1500);  // a duplicate, 500 ns late
  EXPECT(s.Has("resume 1"));
  EXPECT(s.lags == (std::vector<int64_t>{500}));
  a.Expire(150, &s);
  EXPECT(s.Has("stale 0"));
  // Malformed datagrams count, and keep the line alive.
  const uint8_t junk[3] = {1, 2, 3};
  a.OnDatagram(0, junk, sizeof(junk), false, 0, 160, &s);
  a.OnDatagram(0, junk, sizeof(junk), true, 0, 160, &s);
  EXPECT(s.Has("resume 0"));
  EXPECT(a.line_stats(0).malformed == 2 &&
         a.line_stats(0).malformed_by[mcast::kMalformedShortHeader] == 1 &&
         a.line_stats(0).malformed_by[mcast::kMalformedTruncated] == 1);
}

TEST(ArbitratesFixedFieldsWithAStartSequence) {
  mcast::ArbiterConfig c;
  c.moldudp64 = false;
  c.field = {0, 4, false};
  c.has_start = true;
  c.start = 10;
  c.gap_timeout_ms = 0;
  mcast::FeedArbiter a(c, 0);
  FeedRecorder s;
  auto d = [](uint32_t n) {
    std::vector<uint8_t> v(5);
    std::memcpy(v.data(), &n, 4);  // little endian host
    v[4] = 'x';
    return v;
  };
  Feed(&a, 0, d(9), 0, &s);   // before the start: a duplicate
  Feed(&a, 0, d(12), 0, &s);  // 10-11 missing
  a.Expire(0, &s);
  EXPECT(s.out.size() == 2 && s.out[0] == "gap 10-11" && s.delivered == (std::vector<uint64_t>{12}));
  EXPECT(a.line_stats(0).duplicates == 1);
}

#include "feed_arbiter.h"

#include <algorithm>
#include <climits>
#include <cstring>

namespace mcast {

void ArbiterSink::DeliverRun(uint64_t first, int line, const uint8_t* blocks, size_t bytes,
                             const uint32_t* ends, uint16_t count, int64_t ts_ns) {
  uint32_t start = 2;
  for (uint16_t i = 0; i < count && ends[i] <= bytes && ends[i] >= start; i++) {
    Deliver(first + i, line, blocks + start, ends[i] - start, ts_ns);
    start = ends[i] + 2;
  }
}

FeedArbiter::FeedArbiter(const ArbiterConfig& config, int64_t now_ms)
    : config_(config),
      pending_(config.max_pending),
      copies_(config.window_bits, std::clamp(config.lines, 1, kMaxFeedLines)) {
  config_.lines = std::clamp(config_.lines, 1, kMaxFeedLines);
  if (config_.max_pending == 0) config_.max_pending = 1;
  for (Line& line : lines_) line.last_ms = now_ms;
  rate_window_ms_ = now_ms;
  if (config_.moldudp64) ends_ = std::make_unique<uint32_t[]>(kMoldMaxCount);
}

void FeedArbiter::Malformed(int line, ParseStatus status) {
  ArbiterLineStats& s = lines_[line].stats;
  s.malformed++;
  switch (status) {
    case ParseStatus::kShortHeader: s.malformed_by[kMalformedShortHeader]++; break;
    case ParseStatus::kCountPastEnd: s.malformed_by[kMalformedCountPastEnd]++; break;
    case ParseStatus::kLengthPastEnd: s.malformed_by[kMalformedLengthPastEnd]++; break;
    case ParseStatus::kSequenceTooLarge: s.malformed_by[kMalformedSequenceTooLarge]++; break;
    case ParseStatus::kTruncated: s.malformed_by[kMalformedTruncated]++; break;
    case ParseStatus::kOk: break;
  }
}

void FeedArbiter::OnDatagram(int line, const uint8_t* data, size_t length, bool truncated,
                             int64_t ts_ns, int64_t now_ms, ArbiterSink* sink) {
  if (line < 0 || line > config_.lines) return;
  Line& l = lines_[line];
  l.stats.packets++;
  // Any datagram, even one that does not parse, shows the line is alive.
  l.last_ms = now_ms;
  if (l.stats.stale) {
    l.stats.stale = false;
    if (line < config_.lines) sink->Resume(line);
  }
  if (truncated) {
    Malformed(line, ParseStatus::kTruncated);
    return;
  }
  if (config_.moldudp64) {
    MoldPacket packet;
    const ParseStatus status = ParseMoldUdp64(data, length, &packet, ends_.get());
    if (status != ParseStatus::kOk) {
      Malformed(line, status);
      return;
    }
    OnMold(line, packet, ts_ns, now_ms, sink);
    return;
  }
  uint64_t seq = 0;
  const ParseStatus status = ParseFixedSequence(data, length, config_.field, &seq);
  if (status != ParseStatus::kOk) {
    Malformed(line, status);
    return;
  }
  switch (Admit(line, seq, 1, data, length, ts_ns, now_ms, sink)) {
    case Admission::kDrop:
      l.stats.received++;
      l.stats.duplicates++;
      return;
    case Admission::kHeld:
      return;
    case Admission::kAccept:
      OnItem(line, seq, data, static_cast<uint32_t>(length), ts_ns, now_ms, sink);
      return;
  }
}

void FeedArbiter::OnMold(int line, const MoldPacket& packet, int64_t ts_ns, int64_t now_ms,
                         ArbiterSink* sink) {
  Line& l = lines_[line];
  const uint16_t count = packet.messages_count();
  const bool retransmission = line == config_.lines;
  const bool current = have_session_ && std::memcmp(packet.session, session_, kMoldSessionBytes) == 0;
  if (retransmission) {
    // Answers for another session (or before any) cannot fill this session's gaps.
    if (!current) {
      l.stats.received += count;
      l.stats.duplicates += count;
      return;
    }
  } else if (!have_session_) {
    std::memcpy(session_, packet.session, kMoldSessionBytes);
    have_session_ = true;
  } else if (!current) {
    if (have_previous_ && std::memcmp(packet.session, previous_, kMoldSessionBytes) == 0) {
      // A slower line still on the session that ended: its items were decided already.
      l.stats.received += count;
      l.stats.duplicates += count;
      return;
    }
    NewEpoch(line, ResetReason::kNewSession, packet.session, now_ms, sink);
  } else if (!l.in_epoch && epoch_reason_ == ResetReason::kNewSession) {
    l.in_epoch = true;  // the line has moved on to the new session too
    l.has_last = false;
  }
  if (packet.end_of_session() || packet.heartbeat()) {
    if (l.in_epoch) NoteNext(packet.sequence, now_ms);
    if (packet.end_of_session() && !retransmission && !end_seen_) {
      end_seen_ = true;
      sink->Reset(line, ResetReason::kEndOfSession, nullptr, session_);
    }
    return;
  }
  const uint8_t* raw = packet.session;  // the datagram starts with the session
  switch (Admit(line, packet.sequence, count, raw, kMoldHeaderBytes + packet.messages_bytes, ts_ns,
                now_ms, sink)) {
    case Admission::kDrop:
      l.stats.received += count;
      l.stats.duplicates += count;
      return;
    case Admission::kHeld:
      return;
    case Admission::kAccept:
      break;
  }
  if (started_ && packet.sequence + count <= next_) {
    // The usual copy of the slower line: every number was delivered (or declared) already.
    Duplicates(line, packet.sequence, count, ts_ns, sink);
    return;
  }
  OnMoldItems(line, packet, ts_ns, now_ms, sink);
}

void FeedArbiter::OnMoldItems(int line, const MoldPacket& packet, int64_t ts_ns, int64_t now_ms,
                              ArbiterSink* sink) {
  MoldMessages messages(packet);
  const uint8_t* data = nullptr;
  uint16_t length = 0;
  if (started_ && packet.sequence >= high_ && line < config_.lines &&
      packet.messages_count() > 0 && packet.ends != nullptr) {
    // Above everything seen: every message is a first copy, as OnItem would find each, without
    // its checks for what cannot be. Counted as one run, and handed over or kept as one.
    Line& l = lines_[line];
    const uint64_t first = packet.sequence;
    const uint16_t count = packet.messages_count();
    if (first > high_) AddMissing(high_, first - 1, now_ms + config_.gap_timeout_ms, 0);
    l.stats.received += count;
    l.stats.wins += count;
    copies_.FirstRange(first, count, line, ts_ns);
    high_ = first + count;
    NoteLast(&l, first + count - 1);
    if (first == next_) {
      // In order with nothing waiting or missing: the faster line's usual packet.
      stats_.delivered += count;
      next_ = high_;
      sink->DeliverRun(first, line, packet.messages, packet.messages_bytes, packet.ends, count,
                       ts_ns);
      return;
    }
    // A number below it is still missing: the faster line's packets after a loss, while the
    // other line's copy is on its way. The packet waits whole (copied once, delivered by
    // DeliverRun), rather than a stored item per message.
    runs_.Push(first, count, line, ts_ns, packet.messages, packet.messages_bytes, packet.ends);
    BoundWaiting(sink);
    return;
  }
  for (uint64_t seq = packet.sequence; messages.Next(&data, &length); seq++) {
    OnItem(line, seq, data, length, ts_ns, now_ms, sink);
  }
}

FeedArbiter::Admission FeedArbiter::Admit(int line, uint64_t first, uint64_t count,
                                          const uint8_t* data, size_t length, int64_t ts_ns,
                                          int64_t now_ms, ArbiterSink* sink) {
  if (line == config_.lines) return started_ ? Admission::kAccept : Admission::kDrop;
  Line& l = lines_[line];
  if (!l.in_epoch) {
    // After a restart on another line, this line counts again once its numbers go back too,
    // into what the new stream has seen (a reordered old number stays out).
    if (epoch_reason_ == ResetReason::kRestart && l.has_last && first < l.last_seq &&
        (!started_ || first <= high_)) {
      l.in_epoch = true;
      l.has_last = false;
    } else {
      return Admission::kDrop;
    }
  }
  if (!l.has_last) l.has_queued = false;  // a new stream for this line (NewEpoch, a join)
  if (l.has_candidate) {
    Candidate held = std::move(l.candidate);
    l.has_candidate = false;
    if (first == held.next) {
      // Confirmed: the line went on from the repeated numbers. The held packet starts the
      // new stream.
      NewEpoch(line, ResetReason::kRestart, have_session_ ? session_ : nullptr, now_ms, sink);
      Replay(line, held, now_ms, sink);
      Queued(&l, first + count - 1);
      return Admission::kAccept;
    }
    // Not a restart: the held packet was an old copy (a duplicate, or one the network repeated).
    l.stats.received += held.items;
    l.stats.duplicates += held.items;
  }
  // A restart candidate: wholly below the line's last number and below what the feed has
  // decided, and either numbers the line sent already (the window says so: reordering never
  // repeats, it only swaps), or further back ON THE LINE ITSELF than the window remembers.
  // Not "further back than the feed's next number": a line far behind the other (its socket
  // read later, its sender slower, its last number raised by the filter's records of copies
  // that arrived after what its queue still holds) would make every reordered run of it a
  // candidate, and the reordering delays 2-3 consecutive packets together, so the next packet
  // goes on from the held one as a restart's does (issue 12, CI on d233434). It is held until
  // the line's next packet says whether the line goes on from it (a restart) or not (an old
  // copy).
  if (started_ && l.has_last && first + count <= l.last_seq && first < next_) {
    const bool far_back = l.has_queued && first < l.queued_last &&
                          l.queued_last - first >= copies_.size();
    if (far_back || copies_.SentBy(first, line)) {
      l.candidate.bytes.assign(data, data + length);
      l.candidate.next = first + count;
      l.candidate.items = count;
      l.candidate.ts_ns = ts_ns;
      l.has_candidate = true;
      return Admission::kHeld;
    }
  }
  Queued(&l, first + count - 1);
  return Admission::kAccept;
}

void FeedArbiter::Queued(Line* l, uint64_t last) {
  if (!l->has_queued || last > l->queued_last) {
    l->has_queued = true;
    l->queued_last = last;
  }
}

void FeedArbiter::NoteLast(Line* l, uint64_t last) {
  if (!l->has_last || last > l->last_seq) {
    l->has_last = true;
    l->last_seq = last;
  }
}

void FeedArbiter::Replay(int line, const Candidate& held, int64_t now_ms, ArbiterSink* sink) {
  const uint8_t* data = held.bytes.data();
  const size_t length = held.bytes.size();
  if (config_.moldudp64) {
    MoldPacket packet;
    if (!replay_ends_) replay_ends_ = std::make_unique<uint32_t[]>(kMoldMaxCount);
    if (ParseMoldUdp64(data, length, &packet, replay_ends_.get()) == ParseStatus::kOk) {
      OnMoldItems(line, packet, held.ts_ns, now_ms, sink);
    }
    return;
  }
  uint64_t seq = 0;
  if (ParseFixedSequence(data, length, config_.field, &seq) == ParseStatus::kOk) {
    OnItem(line, seq, data, static_cast<uint32_t>(length), held.ts_ns, now_ms, sink);
  }
}

void FeedArbiter::OnFilteredCopy(int line, uint64_t first, uint64_t count, int64_t now_ms,
                                 ArbiterSink* sink) {
  if (line < 0 || line >= config_.lines || count == 0) return;
  Line& l = lines_[line];
  l.stats.packets++;
  l.stats.filtered++;
  l.last_ms = now_ms;
  if (l.stats.stale) {
    l.stats.stale = false;
    sink->Resume(line);
  }
  const bool decided = filtered_.empty() && started_ && first + count <= next_;
  // At the bound a copy is counted at once (not reached: the caller stops reading there).
  if (!decided && filtered_.size() < kMaxFilteredWaiting) {
    filtered_.push_back({line, first, count});
    return;
  }
  CountFiltered(line, first, count, sink);
}

void FeedArbiter::CountFiltered(int line, uint64_t first, uint64_t count, ArbiterSink* sink) {
  Line& l = lines_[line];
  if (!l.in_epoch) {  // as Admit's kDrop: an old stream's copy
    l.stats.received += count;
    l.stats.duplicates += count;
    return;
  }
  Duplicates(line, first, count, 0, sink);
}

void FeedArbiter::SettleFiltered(ArbiterSink* sink) {
  while (!filtered_.empty()) {
    const FilteredCopy f = filtered_.front();
    if (!started_ || f.first + f.count > next_) return;
    filtered_.pop_front();
    CountFiltered(f.line, f.first, f.count, sink);
  }
}

void FeedArbiter::Start(uint64_t first, int64_t now_ms) {
  started_ = true;
  next_ = config_.has_start ? config_.start : first;
  high_ = next_;
  (void)now_ms;
}

void FeedArbiter::OnItem(int line, uint64_t seq, const uint8_t* data, uint32_t length,
                         int64_t ts_ns, int64_t now_ms, ArbiterSink* sink) {
  Line& l = lines_[line];
  l.stats.received++;
  if (line < config_.lines) NoteLast(&l, seq);
  if (!started_) Start(seq, now_ms);
  if (seq < next_) {
    Duplicate(line, seq, ts_ns, sink);
    return;
  }
  if (seq < high_) {
    // Not missing: it waits already, alone or in a run.
    if (pending_.Contains(seq, next_) || !Fill(seq)) {
      Duplicate(line, seq, ts_ns, sink);
      return;
    }
  } else {
    if (seq > high_) AddMissing(high_, seq - 1, now_ms + config_.gap_timeout_ms, 0);
    high_ = seq + 1;
  }
  FirstCopy(line, seq, ts_ns);
  if (line == config_.lines) stats_.recovered_by_retransmit++;
  if (seq == next_) {
    stats_.delivered++;
    next_++;
    sink->Deliver(seq, line, data, length, ts_ns);
    Settle(sink);
    return;
  }
  Wait(line, seq, data, length, ts_ns);
  BoundWaiting(sink);
}

void FeedArbiter::BoundWaiting(ArbiterSink* sink) {
  stats_.pending_high = std::max<uint64_t>(stats_.pending_high, pending());
  while (pending() > config_.max_pending && !missing_.empty()) {
    stats_.overflows++;
    DeclareHeadGap(sink);
  }
}

void FeedArbiter::Wait(int line, uint64_t seq, const uint8_t* data, uint32_t length,
                       int64_t ts_ns) {
  pending_.Put(seq, next_, line, data, length, ts_ns);
}

void FeedArbiter::NoteNext(uint64_t next, int64_t now_ms) {
  if (!started_) {
    // A heartbeat before any message: the session goes on from `next` (or startSequence).
    Start(next, now_ms);
    if (config_.has_start && next > high_) {
      AddMissing(high_, next - 1, now_ms + config_.gap_timeout_ms, 0);
      high_ = next;
    }
    return;
  }
  if (next > high_) {
    AddMissing(high_, next - 1, now_ms + config_.gap_timeout_ms, 0);
    high_ = next;
  }
}

void FeedArbiter::AddMissing(uint64_t from, uint64_t to, int64_t deadline, uint32_t requests) {
  missing_.emplace(from, Missing{to, deadline, requests});
  if (deadline != INT64_MAX) deadlines_.emplace(deadline, from);
}

void FeedArbiter::EraseMissing(std::map<uint64_t, Missing>::iterator it) {
  if (it->second.deadline != INT64_MAX) deadlines_.erase({it->second.deadline, it->first});
  missing_.erase(it);
}

bool FeedArbiter::Fill(uint64_t seq) {
  auto it = missing_.upper_bound(seq);
  if (it == missing_.begin()) return false;
  --it;
  if (seq > it->second.to) return false;
  const uint64_t from = it->first;
  Missing& m = it->second;
  if (from == seq && seq == m.to) {
    EraseMissing(it);
  } else if (from == seq) {
    // The range's first number came (the other line fills a loss in order): the range now
    // starts one later. Its nodes are re-keyed in place, no allocation.
    auto node = missing_.extract(it);
    node.key() = seq + 1;
    missing_.insert(std::move(node));
    if (m.deadline != INT64_MAX) {
      auto entry = deadlines_.extract({m.deadline, from});
      if (!entry.empty()) {
        entry.value().second = seq + 1;
        deadlines_.insert(std::move(entry));
      }
    }
  } else if (seq == m.to) {
    m.to = seq - 1;  // the key and its deadline entry stay
  } else {
    const Missing tail = m;
    m.to = seq - 1;
    AddMissing(seq + 1, tail.to, tail.deadline, tail.requests);
  }
  return true;
}

void FeedArbiter::Duplicate(int line, uint64_t seq, int64_t ts_ns, ArbiterSink* sink) {
  lines_[line].stats.duplicates++;
  int64_t lag = 0;
  if (copies_.Later(seq, line, ts_ns, &lag)) sink->Lag(line, lag);
}

void FeedArbiter::Duplicates(int line, uint64_t first, uint64_t count, int64_t ts_ns,
                             ArbiterSink* sink) {
  Line& l = lines_[line];
  l.stats.received += count;
  l.stats.duplicates += count;
  const uint64_t last = first + count - 1;
  if (line < config_.lines) NoteLast(&l, last);
  if (ts_ns == 0) {
    copies_.LaterRange(first, count, line);  // no kernel time, so no lag to report
    return;
  }
  for (uint64_t seq = first; seq <= last; seq++) {
    int64_t lag = 0;
    if (copies_.Later(seq, line, ts_ns, &lag)) sink->Lag(line, lag);
  }
}

void FeedArbiter::FirstCopy(int line, uint64_t seq, int64_t ts_ns) {
  lines_[line].stats.wins++;
  copies_.First(seq, line, ts_ns);
}

void FeedArbiter::Settle(ArbiterSink* sink) {
  for (;;) {
    while (!pending_.empty()) {
      // Taken out first: the sink may call back into JS, and the store must be consistent then.
      PendingStore::Item* item = pending_.Take(next_);
      if (item == nullptr) break;
      const uint64_t seq = next_;
      stats_.delivered++;
      next_++;
      sink->Deliver(seq, item->line, item->bytes(), item->length, item->ts_ns);
      PendingStore::Done(item);
    }
    if (!runs_.empty() && runs_.front().first == next_) {
      const PendingRuns::Run& run = runs_.Take();
      stats_.delivered += run.count;
      next_ += run.count;
      sink->DeliverRun(run.first, run.line, run.blocks.data(), run.blocks.size(), run.ends.data(),
                       run.count, run.ts_ns);
      continue;
    }
    if (!missing_.empty() && missing_.begin()->first == next_ &&
        missing_.begin()->second.deadline == INT64_MAX) {
      GiveUpHead(sink);
      continue;
    }
    return;
  }
}

void FeedArbiter::DeclareHeadGap(ArbiterSink* sink) {
  GiveUpHead(sink);
  Settle(sink);
}

void FeedArbiter::GiveUpHead(ArbiterSink* sink) {
  if (missing_.empty()) return;
  auto it = missing_.begin();
  const uint64_t from = it->first;
  const uint64_t to = it->second.to;
  EraseMissing(it);
  stats_.gaps++;
  stats_.gap_items += to - from + 1;
  next_ = to + 1;
  sink->Gap(from, to);
}

void FeedArbiter::Flush(ArbiterSink* sink) {
  if (!started_) return;
  for (;;) {
    Settle(sink);
    if (!missing_.empty() && missing_.begin()->first == next_) {
      DeclareHeadGap(sink);
      continue;
    }
    // Cannot happen ([next, high) is always waiting or missing); never loops if it did.
    const uint64_t lowest = std::min(pending_.empty() ? UINT64_MAX : pending_.Lowest(next_),
                                     runs_.empty() ? UINT64_MAX : runs_.front().first);
    if (lowest != UINT64_MAX && lowest > next_) {
      next_ = lowest;
      continue;
    }
    break;
  }
  pending_.Clear();
  runs_.Clear();
  missing_.clear();
  deadlines_.clear();
}

void FeedArbiter::NewEpoch(int line, ResetReason reason, const uint8_t* new_session,
                           int64_t now_ms, ArbiterSink* sink) {
  Flush(sink);
  // The old stream's filtered copies: every number is decided now.
  while (!filtered_.empty()) {
    const FilteredCopy f = filtered_.front();
    filtered_.pop_front();
    CountFiltered(f.line, f.first, f.count, sink);
  }
  started_ = false;
  copies_.Clear();
  uint8_t ended[kMoldSessionBytes];
  const bool had_session = have_session_;
  if (had_session) std::memcpy(ended, session_, kMoldSessionBytes);
  if (reason == ResetReason::kNewSession && new_session != nullptr) {
    std::memcpy(previous_, session_, kMoldSessionBytes);
    have_previous_ = have_session_;
    std::memcpy(session_, new_session, kMoldSessionBytes);
    have_session_ = true;
    end_seen_ = false;
  }
  epoch_reason_ = reason;
  for (int i = 0; i < config_.lines; i++) {
    Line& l = lines_[i];
    l.in_epoch = i == line;
    if (l.has_candidate) {  // held against the stream that ended: an old copy
      l.has_candidate = false;
      l.stats.received += l.candidate.items;
      l.stats.duplicates += l.candidate.items;
    }
  }
  lines_[line].has_last = false;
  (void)now_ms;
  sink->Reset(line, reason, have_session_ ? session_ : nullptr, had_session ? ended : nullptr);
}

bool FeedArbiter::TakeRequestToken(int64_t now_ms) {
  if (now_ms - rate_window_ms_ >= 1000) {
    rate_window_ms_ = now_ms;
    rate_used_ = 0;
  }
  if (rate_used_ >= config_.requests_per_second) return false;
  rate_used_++;
  return true;
}

void FeedArbiter::Expire(int64_t now_ms, ArbiterSink* sink) {
  for (int i = 0; i < config_.lines; i++) {
    Line& l = lines_[i];
    if (!l.stats.stale && now_ms - l.last_ms >= config_.stale_after_ms) {
      l.stats.stale = true;
      sink->Stale(i);
    }
  }
  rate_blocked_ = false;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
    const uint64_t from = deadlines_.begin()->second;
    auto it = missing_.find(from);
    if (it == missing_.end()) {  // cannot happen; keeps the index from wedging the loop
      deadlines_.erase(deadlines_.begin());
      continue;
    }
    Missing& m = it->second;
    if (config_.retransmit && have_session_ && m.requests < config_.retransmit_retries) {
      if (!TakeRequestToken(now_ms)) {
        rate_blocked_ = true;
        break;
      }
      deadlines_.erase(deadlines_.begin());
      m.requests++;
      m.deadline = now_ms + config_.retransmit_timeout_ms;
      deadlines_.emplace(m.deadline, from);
      stats_.requests++;
      const uint64_t span = m.to - from + 1;
      sink->Request(session_, from, static_cast<uint16_t>(std::min<uint64_t>(span, 0xFFFE)));
      continue;
    }
    if (from == next_) {
      DeclareHeadGap(sink);
    } else {
      // Not the head: declared in order, once the ranges before it are settled.
      deadlines_.erase(deadlines_.begin());
      m.deadline = INT64_MAX;
    }
  }
}

int64_t FeedArbiter::NextDeadline() const {
  int64_t next = INT64_MAX;
  if (!deadlines_.empty()) {
    next = deadlines_.begin()->first;
    if (rate_blocked_) next = std::max(next, rate_window_ms_ + 1000);
  }
  for (int i = 0; i < config_.lines; i++) {
    const Line& l = lines_[i];
    if (!l.stats.stale) next = std::min(next, l.last_ms + config_.stale_after_ms);
  }
  return next;
}

}  // namespace mcast

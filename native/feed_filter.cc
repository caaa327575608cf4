#include "feed_filter.h"

#include <linux/bpf.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#ifndef SO_ATTACH_BPF
#define SO_ATTACH_BPF 50
#endif

namespace mcast {

namespace {

// The state map's one value, in 64-bit words (userspace reads it through mmap).
constexpr int kWordLock = 0;
constexpr int kWordGeneration = 1;
constexpr int kWordContended = 2;
constexpr int kWordPrevious = 3;    // [8]: the line's last first number + 1 (0: none yet)
constexpr int kWordSessionLo = 11;  // [8]: the line's last session, bytes 0-7
constexpr int kWordSessionHi = 19;  // [8]: bytes 8-9
constexpr int kWordFiltered = 27;   // [8]: datagrams dropped
constexpr int kWordItems = 35;      // [8]: items dropped
constexpr int kStateWords = 43;

// A slot, in bytes.
constexpr int16_t kSlotGenLine = 0;  // generation << 4 | line
constexpr int16_t kSlotFirst = 8;
constexpr int16_t kSlotCountLength = 16;  // count | payload length << 16
constexpr int16_t kSlotSessionLo = 24;
constexpr int16_t kSlotSessionHi = 32;
constexpr int16_t kSlotTime = 40;
constexpr uint32_t kSlotBytes = 48;

// Stack of the program (offsets from r10).
constexpr int16_t kStUdp = -8;         // the UDP header / the fixed field / session bytes 8-9
constexpr int16_t kStSession = -16;    // session bytes 0-7 (10 bytes from here)
constexpr int16_t kStSeq = -32;        // sequence (8) then count (2)
constexpr int16_t kStLength = -40;     // a message length
constexpr int16_t kStFirst = -48;
constexpr int16_t kStCountLength = -56;
constexpr int16_t kStIdLo = -64;
constexpr int16_t kStIdHi = -72;
constexpr int16_t kStTime = -80;
constexpr int16_t kStKey = -88;
constexpr int16_t kStCount = -96;
constexpr int16_t kStRecord = -112;  // FilteredRecord, 16 bytes

// BPF_LD | BPF_DW | BPF_IMM (BPF_LD and BPF_IMM are 0): the two-slot 64-bit immediate load.
constexpr uint8_t kLoadImm64 = 0x18;

constexpr uint8_t R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R6 = 6, R7 = 7, R8 = 8, R9 = 9, R10 = 10;

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

// A tiny assembler with forward labels.
class Asm {
 public:
  int Label() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void Bind(int label) { labels_[label] = static_cast<int>(code_.size()); }

  void MovImm(uint8_t dst, int32_t imm) { Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)); }
  void Mov32Imm(uint8_t dst, int32_t imm) { Emit(Insn(BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, imm)); }
  void MovReg(uint8_t dst, uint8_t src) { Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)); }
  void AluImm(uint8_t op, uint8_t dst, int32_t imm) { Emit(Insn(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm)); }
  void AluReg(uint8_t op, uint8_t dst, uint8_t src) { Emit(Insn(BPF_ALU64 | op | BPF_X, dst, src, 0, 0)); }
  // Host to big endian (a byte swap on little-endian hosts): `bits` 16, 32 or 64.
  void ToBe(uint8_t dst, int32_t bits) { Emit(Insn(BPF_ALU | BPF_END | BPF_TO_BE, dst, 0, 0, bits)); }
  void Load(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
    Emit(Insn(BPF_LDX | BPF_MEM | size, dst, src, off, 0));
  }
  void Store(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
    Emit(Insn(BPF_STX | BPF_MEM | size, dst, src, off, 0));
  }
  void StoreImm(uint8_t size, uint8_t dst, int16_t off, int32_t imm) {
    Emit(Insn(BPF_ST | BPF_MEM | size, dst, 0, off, imm));
  }
  void Atomic(uint8_t dst, uint8_t src, int16_t off, int32_t op) {
    Emit(Insn(BPF_STX | BPF_ATOMIC | BPF_DW, dst, src, off, op));
  }
  void LoadImm64(uint8_t dst, uint64_t value) {
    Emit(Insn(kLoadImm64, dst, 0, 0, static_cast<int32_t>(value & 0xffffffffu)));
    Emit(Insn(0, 0, 0, 0, static_cast<int32_t>(value >> 32)));
  }
  void LoadMap(uint8_t dst, int fd) {
    Emit(Insn(kLoadImm64, dst, BPF_PSEUDO_MAP_FD, 0, fd));
    Emit(Insn(0, 0, 0, 0, 0));
  }
  void JumpImm(uint8_t op, uint8_t dst, int32_t imm, int label) {
    Fix(label);
    Emit(Insn(BPF_JMP | op | BPF_K, dst, 0, 0, imm));
  }
  void JumpReg(uint8_t op, uint8_t dst, uint8_t src, int label) {
    Fix(label);
    Emit(Insn(BPF_JMP | op | BPF_X, dst, src, 0, 0));
  }
  void Jump(int label) {
    Fix(label);
    Emit(Insn(BPF_JMP | BPF_JA, 0, 0, 0, 0));
  }
  void Call(int32_t helper) { Emit(Insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper)); }
  void Exit() { Emit(Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)); }
  // r3 = r10 + off
  void StackPointer(uint8_t dst, int16_t off) {
    MovReg(dst, R10);
    AluImm(BPF_ADD, dst, off);
  }

  std::vector<bpf_insn> Finish() {
    for (const auto& [at, label] : fixups_) {
      code_[at].off = static_cast<int16_t>(labels_[label] - static_cast<int>(at) - 1);
    }
    // Moved, not copied: a copy's allocate(n) pulls in GLIBCXX_3.4.29 (glibc-floor.mjs).
    return std::move(code_);
  }

 private:
  void Emit(const bpf_insn& insn) { code_.push_back(insn); }
  void Fix(int label) { fixups_.emplace_back(code_.size(), label); }

  std::vector<bpf_insn> code_;
  std::vector<int> labels_;
  std::vector<std::pair<size_t, int>> fixups_;
};

int16_t StateOffset(int word) { return static_cast<int16_t>(word * 8); }

// bpf_skb_load_bytes(skb = r6, offset, r10 + stack, length); jumps to `fail` unless it returned 0.
void LoadBytes(Asm& a, int32_t offset_imm, int offset_reg, int16_t stack, int32_t length, int fail) {
  a.MovReg(R1, R6);
  if (offset_reg >= 0) {
    a.MovReg(R2, static_cast<uint8_t>(offset_reg));
    a.AluImm(BPF_ADD, R2, offset_imm);
  } else {
    a.MovImm(R2, offset_imm);
  }
  a.StackPointer(R3, stack);
  a.MovImm(R4, length);
  a.Call(BPF_FUNC_skb_load_bytes);
  a.JumpImm(BPF_JNE, R0, 0, fail);
}

std::vector<bpf_insn> BuildProgram(const FeedFilterConfig& c, int line, int state_fd, int slots_fd,
                                   int ring_fd) {
  Asm a;
  const int pass = a.Label();
  const int common = a.Label();
  a.MovReg(R6, R1);
  a.Load(BPF_W, R7, R6, static_cast<int16_t>(offsetof(struct __sk_buff, len)));
  // The program must see the UDP header at offset 0 (as udp_queue_rcv_one_skb runs it) and the
  // datagram whole: its UDP length must be the skb's length. Anything else passes.
  LoadBytes(a, 0, -1, kStUdp, 8, pass);
  a.Load(BPF_H, R1, R10, kStUdp + 4);
  a.ToBe(R1, 16);
  a.JumpReg(BPF_JNE, R1, R7, pass);
  a.AluImm(BPF_SUB, R7, 8);  // r7 = payload bytes
  a.JumpImm(BPF_JGT, R7, static_cast<int32_t>(c.max_message_size), pass);
  if (!c.moldudp64) {
    const auto need = static_cast<int32_t>(c.field.offset + c.field.size);
    a.JumpImm(BPF_JLT, R7, need, pass);
    LoadBytes(a, static_cast<int32_t>(8 + c.field.offset), -1, kStUdp, static_cast<int32_t>(c.field.size), pass);
    a.Load(c.field.size == 8 ? BPF_DW : BPF_W, R1, R10, kStUdp);
    if (c.field.big_endian) a.ToBe(R1, c.field.size == 8 ? 64 : 32);
    a.LoadImm64(R2, kMaxSequence);
    a.JumpReg(BPF_JGT, R1, R2, pass);
    a.Store(BPF_DW, R10, R1, kStFirst);
    a.MovReg(R1, R7);
    a.AluImm(BPF_LSH, R1, 16);
    a.AluImm(BPF_OR, R1, 1);
    a.Store(BPF_DW, R10, R1, kStCountLength);
    a.StoreImm(BPF_DW, R10, kStIdLo, 0);
    a.StoreImm(BPF_DW, R10, kStIdHi, 0);
    a.StoreImm(BPF_DW, R10, kStCount, 1);
    a.Jump(common);
  } else {
    a.JumpImm(BPF_JLT, R7, static_cast<int32_t>(kMoldHeaderBytes), pass);
    LoadBytes(a, 8, -1, kStSession, 10, pass);       // session
    LoadBytes(a, 8 + 10, -1, kStSeq, 10, pass);      // sequence, count
    a.Load(BPF_H, R8, R10, kStSeq + 8);
    a.ToBe(R8, 16);  // r8 = count
    // A heartbeat (0), an end of session (0xFFFF) or a long packet: passes.
    a.JumpImm(BPF_JEQ, R8, 0, pass);
    a.JumpImm(BPF_JGT, R8, static_cast<int32_t>(FeedFilter::kMaxWalk), pass);
    a.Load(BPF_DW, R1, R10, kStSeq);
    a.ToBe(R1, 64);
    // The last number, first + count - 1, must be an exact JS number (as ParseMoldUdp64).
    a.LoadImm64(R2, kMaxSequence + 1);
    a.AluReg(BPF_SUB, R2, R8);
    a.JumpReg(BPF_JGT, R1, R2, pass);
    a.Store(BPF_DW, R10, R1, kStFirst);
    a.Load(BPF_DW, R1, R10, kStSession);
    a.Store(BPF_DW, R10, R1, kStIdLo);
    a.Load(BPF_H, R1, R10, kStSession + 8);
    a.Store(BPF_DW, R10, R1, kStIdHi);
    a.Store(BPF_DW, R10, R8, kStCount);
    a.MovReg(R1, R7);
    a.AluImm(BPF_LSH, R1, 16);
    a.AluReg(BPF_OR, R1, R8);
    a.Store(BPF_DW, R10, R1, kStCountLength);
    // The message blocks, as ParseMoldUdp64 walks them: r9 = offset in the payload.
    a.MovImm(R9, static_cast<int32_t>(kMoldHeaderBytes));
    const int walk = a.Label();
    a.Bind(walk);
    a.MovReg(R1, R7);
    a.AluReg(BPF_SUB, R1, R9);
    a.JumpImm(BPF_JLT, R1, 2, pass);  // count past the end
    LoadBytes(a, 8, R9, kStLength, 2, pass);
    a.Load(BPF_H, R1, R10, kStLength);
    a.ToBe(R1, 16);
    a.AluImm(BPF_ADD, R9, 2);
    a.MovReg(R2, R7);
    a.AluReg(BPF_SUB, R2, R9);
    a.JumpReg(BPF_JGT, R1, R2, pass);  // a length past the end
    a.AluReg(BPF_ADD, R9, R1);
    a.AluImm(BPF_SUB, R8, 1);
    a.JumpImm(BPF_JGT, R8, 0, walk);
  }

  a.Bind(common);
  a.Call(BPF_FUNC_ktime_get_ns);
  a.Store(BPF_DW, R10, R0, kStTime);
  a.StoreImm(BPF_W, R10, kStKey, 0);
  a.LoadMap(R1, state_fd);
  a.StackPointer(R2, kStKey);
  a.Call(BPF_FUNC_map_lookup_elem);
  a.JumpImm(BPF_JEQ, R0, 0, pass);
  a.MovReg(R7, R0);  // r7 = state
  a.Load(BPF_DW, R1, R10, kStFirst);
  a.AluImm(BPF_AND, R1, static_cast<int32_t>(FeedFilter::kSlots - 1));
  a.Store(BPF_W, R10, R1, kStKey);
  a.LoadMap(R1, slots_fd);
  a.StackPointer(R2, kStKey);
  a.Call(BPF_FUNC_map_lookup_elem);
  a.JumpImm(BPF_JEQ, R0, 0, pass);
  a.MovReg(R8, R0);  // r8 = slot

  // Try-lock: r0 = cmpxchg(&lock, 0, 1). Held elsewhere: pass (counted).
  const int locked = a.Label();
  a.MovImm(R0, 0);
  a.MovImm(R1, 1);
  a.Atomic(R7, R1, StateOffset(kWordLock), BPF_CMPXCHG);
  a.JumpImm(BPF_JEQ, R0, 0, locked);
  a.MovImm(R1, 1);
  a.Atomic(R7, R1, StateOffset(kWordContended), BPF_ADD);
  a.Jump(pass);
  a.Bind(locked);

  const int record = a.Label();
  const int check = a.Label();
  const int no_previous = a.Label();
  const int forward = a.Label();
  a.Load(BPF_DW, R9, R7, StateOffset(kWordGeneration));  // r9 = generation
  a.Load(BPF_DW, R1, R10, kStFirst);
  a.AluImm(BPF_ADD, R1, 1);
  a.Load(BPF_DW, R2, R7, StateOffset(kWordPrevious + line));
  a.Store(BPF_DW, R7, R1, StateOffset(kWordPrevious + line));
  a.MovImm(R4, 0);  // r4 = the line went back
  a.JumpImm(BPF_JEQ, R2, 0, no_previous);
  a.JumpReg(BPF_JGT, R1, R2, forward);
  a.MovImm(R4, 1);
  a.Bind(forward);
  if (c.moldudp64) {
    const int same_lo = a.Label();
    const int same_hi = a.Label();
    a.Load(BPF_DW, R1, R10, kStIdLo);
    a.Load(BPF_DW, R2, R7, StateOffset(kWordSessionLo + line));
    a.JumpReg(BPF_JEQ, R1, R2, same_lo);
    a.MovImm(R4, 1);
    a.Bind(same_lo);
    a.Load(BPF_DW, R1, R10, kStIdHi);
    a.Load(BPF_DW, R2, R7, StateOffset(kWordSessionHi + line));
    a.JumpReg(BPF_JEQ, R1, R2, same_hi);
    a.MovImm(R4, 1);
    a.Bind(same_hi);
  }
  a.Bind(no_previous);
  if (c.moldudp64) {
    a.Load(BPF_DW, R1, R10, kStIdLo);
    a.Store(BPF_DW, R7, R1, StateOffset(kWordSessionLo + line));
    a.Load(BPF_DW, R1, R10, kStIdHi);
    a.Store(BPF_DW, R7, R1, StateOffset(kWordSessionHi + line));
  }
  a.JumpImm(BPF_JEQ, R4, 0, check);
  // Back or a new session: a new generation, and this datagram passes (recorded in it).
  a.MovImm(R1, 1);
  a.Atomic(R7, R1, StateOffset(kWordGeneration), BPF_ADD);
  a.AluImm(BPF_ADD, R9, 1);
  a.Jump(record);

  a.Bind(check);
  a.Load(BPF_DW, R1, R8, kSlotGenLine);
  a.MovReg(R2, R1);
  a.AluImm(BPF_RSH, R2, 4);
  a.JumpReg(BPF_JNE, R2, R9, record);  // another generation (or an empty slot: generation 0 is never used)
  a.AluImm(BPF_AND, R1, 15);
  a.JumpImm(BPF_JEQ, R1, line, record);  // this line's own copy: the arbiter decides
  const std::pair<int16_t, int16_t> fields[] = {
      {kSlotFirst, kStFirst}, {kSlotCountLength, kStCountLength},
      {kSlotSessionLo, kStIdLo}, {kSlotSessionHi, kStIdHi}};
  for (const auto& [slot_off, stack_off] : fields) {
    a.Load(BPF_DW, R1, R8, slot_off);
    a.Load(BPF_DW, R2, R10, stack_off);
    a.JumpReg(BPF_JNE, R1, R2, record);
  }
  a.Load(BPF_DW, R1, R10, kStTime);
  a.Load(BPF_DW, R2, R8, kSlotTime);
  a.AluReg(BPF_SUB, R1, R2);
  a.LoadImm64(R2, c.window_ns);
  a.JumpReg(BPF_JGT, R1, R2, record);  // older than the window (or a later slot time: wraps large)
  // A duplicate. Unlock, then record it; only a recorded copy is dropped.
  a.MovImm(R1, 0);
  a.Atomic(R7, R1, StateOffset(kWordLock), BPF_XCHG);
  a.Load(BPF_DW, R1, R10, kStFirst);
  a.Store(BPF_DW, R10, R1, kStRecord);
  a.Load(BPF_DW, R1, R10, kStCount);
  a.Store(BPF_W, R10, R1, kStRecord + 8);
  a.StoreImm(BPF_W, R10, kStRecord + 12, line);
  a.LoadMap(R1, ring_fd);
  a.StackPointer(R2, kStRecord);
  a.MovImm(R3, sizeof(FilteredRecord));
  a.MovImm(R4, BPF_RB_NO_WAKEUP);
  a.Call(BPF_FUNC_ringbuf_output);
  a.JumpImm(BPF_JNE, R0, 0, pass);
  a.MovImm(R1, 1);
  a.Atomic(R7, R1, StateOffset(kWordFiltered + line), BPF_ADD);
  a.Load(BPF_DW, R1, R10, kStCount);
  a.Atomic(R7, R1, StateOffset(kWordItems + line), BPF_ADD);
  a.MovImm(R0, 0);
  a.Exit();

  a.Bind(record);
  a.MovReg(R1, R9);
  a.AluImm(BPF_LSH, R1, 4);
  a.AluImm(BPF_OR, R1, line);
  a.Store(BPF_DW, R8, R1, kSlotGenLine);
  for (const auto& [slot_off, stack_off] : fields) {
    a.Load(BPF_DW, R1, R10, stack_off);
    a.Store(BPF_DW, R8, R1, slot_off);
  }
  a.Load(BPF_DW, R1, R10, kStTime);
  a.Store(BPF_DW, R8, R1, kSlotTime);
  a.MovImm(R1, 0);
  a.Atomic(R7, R1, StateOffset(kWordLock), BPF_XCHG);

  a.Bind(pass);
  a.Mov32Imm(R0, -1);  // keep the whole datagram
  a.Exit();
  return a.Finish();
}

long Bpf(int cmd, union bpf_attr* attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int CreateMap(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t entries,
              uint32_t flags) {
  union bpf_attr attr {};
  attr.map_type = type;
  attr.key_size = key_size;
  attr.value_size = value_size;
  attr.max_entries = entries;
  attr.map_flags = flags;
  return static_cast<int>(Bpf(BPF_MAP_CREATE, &attr));
}

}  // namespace

std::unique_ptr<FeedFilter> FeedFilter::Load(const FeedFilterConfig& config, std::string* error,
                                             int* err) {
  std::unique_ptr<FeedFilter> f(new FeedFilter());
  f->lines_ = config.lines < 1 ? 1 : (config.lines > 8 ? 8 : config.lines);
  f->page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  auto fail = [&](const char* what) {
    *err = errno;
    *error = what;
    return nullptr;
  };
  f->state_fd_ = CreateMap(BPF_MAP_TYPE_ARRAY, 4, kStateWords * 8, 1, BPF_F_MMAPABLE);
  if (f->state_fd_ < 0) return fail("bpf(BPF_MAP_CREATE) of the filter state");
  f->slots_fd_ = CreateMap(BPF_MAP_TYPE_ARRAY, 4, kSlotBytes, kSlots, 0);
  if (f->slots_fd_ < 0) return fail("bpf(BPF_MAP_CREATE) of the filter slots");
  f->ring_fd_ = CreateMap(BPF_MAP_TYPE_RINGBUF, 0, 0, kRingBytes, 0);
  if (f->ring_fd_ < 0) return fail("bpf(BPF_MAP_CREATE) of the filter ring");
  f->state_map_bytes_ = (size_t{kStateWords} * 8 + f->page_ - 1) / f->page_ * f->page_;
  void* state = mmap(nullptr, f->state_map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, f->state_fd_, 0);
  if (state == MAP_FAILED) return fail("mmap of the filter state");
  f->state_ = static_cast<uint64_t*>(state);
  void* consumer = mmap(nullptr, f->page_, PROT_READ | PROT_WRITE, MAP_SHARED, f->ring_fd_, 0);
  if (consumer == MAP_FAILED) return fail("mmap of the filter ring");
  f->consumer_ = static_cast<uint64_t*>(consumer);
  void* producer = mmap(nullptr, f->page_ + 2 * size_t{kRingBytes}, PROT_READ, MAP_SHARED, f->ring_fd_,
                        static_cast<off_t>(f->page_));
  if (producer == MAP_FAILED) return fail("mmap of the filter ring");
  f->producer_ = static_cast<const uint8_t*>(producer);
  // Generation 0 marks an empty slot: the first generation is 1.
  __atomic_store_n(f->state_ + kWordGeneration, 1, __ATOMIC_SEQ_CST);

  std::vector<char> log(size_t{64} * 1024);
  static const char kLicense[] = "MIT";
  for (int line = 0; line < f->lines_; line++) {
    const std::vector<bpf_insn> code = BuildProgram(config, line, f->state_fd_, f->slots_fd_, f->ring_fd_);
    union bpf_attr attr {};
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = reinterpret_cast<uint64_t>(code.data());
    attr.insn_cnt = static_cast<uint32_t>(code.size());
    attr.license = reinterpret_cast<uint64_t>(kLicense);
    std::strncpy(attr.prog_name, "mcast_feed", sizeof(attr.prog_name) - 1);
    attr.log_level = 0;
    int fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &attr));
    if (fd < 0 && errno != EPERM) {
      // Again with the verifier's log, for the error.
      log[0] = 0;
      attr.log_level = 1;
      attr.log_buf = reinterpret_cast<uint64_t>(log.data());
      attr.log_size = static_cast<uint32_t>(log.size());
      fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &attr));
      if (fd < 0) {
        *err = errno;
        *error = "bpf(BPF_PROG_LOAD) of the feed filter";
        std::string text(log.data(), strnlen(log.data(), log.size()));
        if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
        if (!text.empty()) *error += " (verifier: " + text + ")";
        return nullptr;
      }
    }
    if (fd < 0) return fail("bpf(BPF_PROG_LOAD) of the feed filter");
    f->progs_[line] = fd;
  }
  return f;
}

FeedFilter::~FeedFilter() {
  for (int fd : progs_) {
    if (fd >= 0) close(fd);
  }
  if (state_ != nullptr) munmap(state_, state_map_bytes_);
  if (consumer_ != nullptr) munmap(consumer_, page_);
  if (producer_ != nullptr) munmap(const_cast<uint8_t*>(producer_), page_ + 2 * size_t{kRingBytes});
  for (int fd : {state_fd_, slots_fd_, ring_fd_}) {
    if (fd >= 0) close(fd);
  }
}

bool FeedFilter::Attach(int line, int socket_fd, int* err) const {
  if (line < 0 || line >= lines_) {
    *err = EINVAL;
    return false;
  }
  const int prog = progs_[line];
  if (setsockopt(socket_fd, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)) != 0) {
    *err = errno;
    return false;
  }
  return true;
}

uint64_t FeedFilter::Filtered(int line) const {
  return __atomic_load_n(state_ + kWordFiltered + line, __ATOMIC_ACQUIRE);
}

uint64_t FeedFilter::FilteredItems(int line) const {
  return __atomic_load_n(state_ + kWordItems + line, __ATOMIC_ACQUIRE);
}

uint64_t FeedFilter::Contended() const {
  return __atomic_load_n(state_ + kWordContended, __ATOMIC_ACQUIRE);
}

void FeedFilter::Invalidate() { __atomic_fetch_add(state_ + kWordGeneration, 1, __ATOMIC_SEQ_CST); }

bool FeedFilter::NextRecord(FilteredRecord* out) {
  // The kernel's ring buffer layout (kernel/bpf/ringbuf.c): producer position at the start of
  // the producer page, data after it (mapped twice, so a record never wraps); each record has
  // an 8-byte header, its length with a busy bit (31) and a discard bit (30).
  const uint64_t* producer_pos = reinterpret_cast<const uint64_t*>(producer_);
  const uint8_t* data = producer_ + page_;
  for (;;) {
    const uint64_t consumer = __atomic_load_n(consumer_, __ATOMIC_ACQUIRE);
    const uint64_t producer = __atomic_load_n(producer_pos, __ATOMIC_ACQUIRE);
    if (consumer >= producer) return false;
    const uint8_t* header = data + (consumer & (kRingBytes - 1));
    const uint32_t length = __atomic_load_n(reinterpret_cast<const uint32_t*>(header), __ATOMIC_ACQUIRE);
    if ((length & (1u << 31)) != 0) return false;  // still being written
    const uint32_t bytes = length & ~((1u << 31) | (1u << 30));
    const bool discarded = (length & (1u << 30)) != 0;
    const bool ours = !discarded && bytes == sizeof(FilteredRecord);
    if (ours) std::memcpy(out, header + 8, sizeof(FilteredRecord));
    __atomic_store_n(consumer_, consumer + ((bytes + 8 + 7) & ~uint64_t{7}), __ATOMIC_RELEASE);
    if (ours) return true;
  }
}

}  // namespace mcast

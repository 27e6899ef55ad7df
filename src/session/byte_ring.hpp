// A fixed-capacity ring of bytes: the replay buffer and the receive buffer. It never reallocates, so a
// span taken from it stays valid while the bytes it covers are not consumed. The storage is allocated by
// the first push, so that an idle session's rings cost no memory.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace lifeline::detail {

class byte_ring {
 public:
  explicit byte_ring(std::size_t capacity) : capacity_(capacity) {}

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t free() const noexcept { return capacity_ - size_; }
  bool empty() const noexcept { return size_ == 0; }

  /// Appends as much of `in` as fits; returns how much.
  std::size_t push(const void* in, std::size_t n) noexcept {
    n = std::min(n, free());
    if (n == 0) return 0;
    if (!data_) data_.reset(new std::uint8_t[capacity_]);
    const auto tail = (head_ + size_) % capacity_;
    const auto first = std::min(n, capacity_ - tail);
    std::memcpy(data_.get() + tail, in, first);
    std::memcpy(data_.get(), static_cast<const std::uint8_t*>(in) + first, n - first);
    size_ += n;
    return n;
  }

  /// The free space after the last byte that is contiguous in memory, for a read to fill in place; the
  /// front may be consumed meanwhile, and commit() then appends what the read put there.
  std::span<std::uint8_t> prepare() noexcept {
    if (!data_) data_.reset(new std::uint8_t[capacity_]);
    const auto tail = (head_ + size_) % capacity_;
    prepared_ = true;
    return {data_.get() + tail, std::min(free(), capacity_ - tail)};
  }
  /// Appends the first `n` bytes of the span prepare() gave.
  void commit(std::size_t n) noexcept {
    size_ += n;
    prepared_ = false;
  }

  /// Copies up to `n` bytes from the front into `out` without consuming them; returns how many.
  std::size_t peek(void* out, std::size_t n) const noexcept {
    const auto [a, b] = view(0, n);
    std::memcpy(out, a.data(), a.size());
    std::memcpy(static_cast<std::uint8_t*>(out) + a.size(), b.data(), b.size());
    return a.size() + b.size();
  }

  /// Up to `n` bytes starting `offset` bytes after the front, as at most two contiguous pieces.
  std::pair<std::span<const std::uint8_t>, std::span<const std::uint8_t>> view(std::size_t offset,
                                                                               std::size_t n) const noexcept {
    if (offset >= size_) return {};
    n = std::min(n, size_ - offset);
    const auto start = (head_ + offset) % capacity_;
    const auto first = std::min(n, capacity_ - start);
    return {{data_.get() + start, first}, {data_.get(), n - first}};
  }

  void consume(std::size_t n) noexcept {
    n = std::min(n, size_);
    head_ = (head_ + n) % capacity_;
    size_ -= n;
    if (size_ == 0 && !prepared_) head_ = 0;  // not under a read that is filling prepared space
  }

 private:
  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t capacity_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  bool prepared_ = false;
};

}  // namespace lifeline::detail

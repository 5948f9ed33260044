"""Live-room comments (直播间评论): the events a platform delivers, their signature, the
public reply that never exposes anything private, and the dedupe and rate-limit state."""

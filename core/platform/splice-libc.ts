import { createRequire } from "node:module";

/**
 * The few libc calls the spliced relay needs, bound through koffi (as
 * original-dst.ts binds getsockopt). Loaded separately in each thread that
 * uses them: the main thread makes pipes and kicks the worker's eventfd, the
 * worker moves the bytes.
 */
export interface Libc {
  pipe2(fds: Int32Array, flags: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  close(fd: number): number;
  shutdown(fd: number, how: number): number;
  /** For SO_ERROR: an int and its length (4). */
  getsockopt(fd: number, level: number, name: number, value: Int32Array, length: Uint32Array): number;
  splice(fdIn: number, offIn: null, fdOut: number, offOut: null, len: number, flags: number): number;
  epoll_create1(flags: number): number;
  epoll_ctl(epfd: number, op: number, fd: number, event: Buffer | null): number;
  epoll_wait(epfd: number, events: Buffer, max: number, timeoutMs: number): number;
  eventfd(initval: number, flags: number): number;
  /** For eventfds: 8 bytes. */
  read(fd: number, buf: Buffer, len: number): number;
  write(fd: number, buf: Buffer, len: number): number;
  errno(): number;
}

// Linux values (the same on x86_64 and arm64).
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;
export const SPLICE_F_MOVE = 1;
export const SPLICE_F_NONBLOCK = 2;
export const SHUT_WR = 1;
export const SOL_SOCKET = 1;
export const SO_ERROR = 4;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLLIN = 0x1;
export const EPOLLOUT = 0x4;
export const EPOLLERR = 0x8;
export const EPOLLHUP = 0x10;
export const EPOLLRDHUP = 0x2000;
export const EPOLLET = 0x80000000;
export const EFD_NONBLOCK = O_NONBLOCK;
export const EFD_CLOEXEC = O_CLOEXEC;
export const EAGAIN = 11;
export const EINTR = 4;
export const EPIPE = 32;

/** `struct epoll_event` is packed on x86_64 (12 bytes: u32 events, u64 data), naturally aligned elsewhere (16). */
export const EPOLL_EVENT_SIZE = process.arch === "x64" ? 12 : 16;
export const EPOLL_DATA_OFFSET = process.arch === "x64" ? 4 : 8;

let libc: Libc | undefined;
let unavailable: string | undefined;

/** The bindings, or a reason why there are none (not Linux, koffi failed to load). */
export function loadLibc(): Libc | string {
  if (libc) return libc;
  if (unavailable) return unavailable;
  if (process.platform !== "linux") {
    unavailable = `splice needs Linux; this is ${process.platform}`;
    return unavailable;
  }
  try {
    const require = createRequire(import.meta.url);
    const koffi = require("koffi") as {
      load(lib: string): { func(sig: string): (...args: never[]) => number };
      errno(): number;
    };
    const lib = koffi.load("libc.so.6");
    const f = (sig: string) => lib.func(sig) as never;
    libc = {
      pipe2: f("int pipe2(int32_t *fds, int flags)"),
      fcntl: f("int fcntl(int fd, int cmd, int arg)"),
      close: f("int close(int fd)"),
      shutdown: f("int shutdown(int fd, int how)"),
      getsockopt: f("int getsockopt(int fd, int level, int optname, int32_t *optval, uint32_t *optlen)"),
      splice: f(
        "intptr_t splice(int fd_in, void *off_in, int fd_out, void *off_out, uintptr_t len, unsigned int flags)",
      ),
      epoll_create1: f("int epoll_create1(int flags)"),
      epoll_ctl: f("int epoll_ctl(int epfd, int op, int fd, void *event)"),
      epoll_wait: f("int epoll_wait(int epfd, void *events, int maxevents, int timeout)"),
      eventfd: f("int eventfd(unsigned int initval, int flags)"),
      read: f("intptr_t read(int fd, void *buf, uintptr_t count)"),
      write: f("intptr_t write(int fd, void *buf, uintptr_t count)"),
      errno: () => koffi.errno(),
    };
  } catch (err) {
    unavailable = `koffi could not bind libc: ${(err as Error).message}`;
    return unavailable;
  }
  return libc;
}

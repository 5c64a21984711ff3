"""The one table from scenario operations to the syscalls that trigger them on a real kernel.

Each row says how a C reproducer (``reproduce.py``) realises one operation of
the scenario language on Linux: the syscall(s), the C statement it emits, the
helper functions that statement needs, and where the mapping comes from.  A
row whose ``skip`` is set cannot be realised from user space on the kernels
these reproducers target (6.x): the program reports a KTAP SKIP with that
reason instead of pretending.  Idioms follow the kernel's own COW selftest,
tools/testing/selftests/mm/cow.c (David Hildenbrand, 2022): pipe handshakes
around fork(), vmsplice() for a R/O get, io_uring fixed buffers for a
long-term R/W pin, gup_test's PIN_LONGTERM_TEST_* for a long-term R/O pin,
MADV_PAGEOUT checked through /proc/self/pagemap for swap-out.

Placeholders in ``snippet`` (filled by the generator): ``{page}`` the page's
address expression, ``{h}`` the handle index, ``{tok}`` the token byte,
``{check}`` the check index, ``{child}`` the child process index, ``{step}``
the step index, ``{need}`` 1 when the swap-out must happen for the scenario
to mean anything, ``{name}`` a description for messages.

Operation variants (the ``key`` of a row): ``gup`` splits into ``pin-rw``,
``pin-ro``, ``get-ro`` and ``get-rw``; ``unpin``, ``dma_read`` and
``dma_write`` take the variant of the handle they use; ``munmap`` is
``munmap`` (the process never touches the page again) or ``dontneed`` (it
does: the model's munmap zaps the PTE and a later access faults a new page,
which is MADV_DONTNEED).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["Realisation", "TABLE", "HELPERS", "realise", "gup_variant"]


@dataclass(frozen=True)
class Realisation:
    """How one operation (variant) is triggered from user space."""

    key: str                 # "write", "gup:pin-rw", "dma_read:get-ro", ...
    syscalls: str            # what the program calls, for people
    snippet: str             # the C statement(s), with {placeholders}
    helpers: tuple[str, ...] = ()   # names in HELPERS the snippet calls
    cite: str = ""           # where the mapping comes from
    skip: str = ""           # non-empty: not realisable; the KTAP SKIP reason
    needs: tuple[str, ...] = ()     # environment probes (see reproduce.PROBES)


_COW_C = "tools/testing/selftests/mm/cow.c"
_IO_PIN = ("io_uring/rsrc.c io_sqe_buffers_register() -> io_pin_pages(): "
           "pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM)")
_DIO_PIN = ("v6.5 block layer: David Howells' \"block: Use iov_iter_extract_pages() and page "
            "pinning in direct-io.c\" and \"block: Convert bio_iov_iter_get_pages to use "
            "iov_iter_extract_pages\" (lore 20230526214142.958751-4-dhowells@redhat.com): "
            "O_DIRECT pins user pages (FOLL_PIN, BIO_PAGE_PINNED, unpin_user_page()) \"to prevent "
            "VM copy-on-write from malfunctioning during a concurrent fork()\" (the same "
            "series' 9p commit)")

_ROWS = (
    Realisation("write", "memset()", "memset({page}, {tok}, pagesize);",
                cite="a store; cow.c populates with memset(mem, 1, size)"),
    Realisation("read", "load", "check_page({check}, {page});",
                helpers=("check_page",), cite="a load: the process's view of the page"),
    Realisation("fork", "fork() + pipe handshake",
                "{{ pid_t pid = fork(); if (pid < 0) fail_error(\"fork: %s\", strerror(errno));"
                " if (pid == 0) proc_{child}(); pid_of[{child}] = pid; }}",
                cite=_COW_C + " do_test_cow_in_parent(): fork(), child kept alive on a pipe"),
    Realisation("reap", "waitpid()",
                "if (waitpid(pid_of[{child}], NULL, 0) < 0) fail_error(\"waitpid: %s\", "
                "strerror(errno));",
                cite=_COW_C + " RO_PIN_TEST_PREVIOUSLY_SHARED: the parent waits until the "
                "child quit, so its mm is gone before the next step"),
    Realisation("exit", "_exit()", "_exit(0);",
                cite="exit(): exit_mm() zaps every PTE before the parent's wait returns"),
    Realisation("gup:pin-rw", "io_uring_setup + IORING_REGISTER_BUFFERS",
                "pin_rw({h}, {page});", helpers=("ring", "pin_rw"), needs=("io_uring",),
                cite=_COW_C + " do_test_iouring(): \"This will FOLL_WRITE | FOLL_PIN | "
                "FOLL_LONGTERM the range\"; " + _IO_PIN),
    Realisation("gup:pin-ro", "gup_test PIN_LONGTERM_TEST_START (flags without USE_WRITE)",
                "pin_ro({h}, {page}, {fast});", helpers=("gup_test", "pin_ro"),
                needs=("gup_test",),
                cite=_COW_C + " do_test_ro_pin(): /sys/kernel/debug/gup_test "
                "(CONFIG_GUP_TEST), mm/gup_test.c pin_longterm_test_start()"),
    Realisation("gup:get-ro", "pipe() + vmsplice()", "get_ro({h}, {page});",
                helpers=("get_ro",),
                cite=_COW_C + " child_vmsplice_memcmp_fn(): \"Trigger a read-only pin\"; "
                "fs/splice.c vmsplice_to_pipe() -> iov_iter_get_pages2() (FOLL_GET, R/O)"),
    Realisation("gup:get-rw", "O_DIRECT read in flight", "",
                skip="a R/W FOLL_GET held across later steps needs an O_DIRECT read in "
                "flight; on 6.x O_DIRECT pins instead (FOLL_PIN via iov_iter_extract_pages, "
                "v6.5) and completes before the syscall returns",
                cite=_DIO_PIN),
    Realisation("unpin:pin-rw", "IORING_UNREGISTER_BUFFERS + close", "unpin_rw({h});",
                helpers=("ring", "unpin_rw"), cite="io_uring/rsrc.c io_sqe_buffers_unregister()"
                " -> unpin_user_page()"),
    Realisation("unpin:pin-ro", "gup_test PIN_LONGTERM_TEST_STOP", "unpin_ro({h});",
                helpers=("gup_test", "unpin_ro"), cite=_COW_C + " do_test_ro_pin()"),
    Realisation("unpin:get-ro", "close() both pipe ends", "put_ro({h});",
                helpers=("put_ro",), cite="closing the pipe frees its buffers: put_page()"),
    Realisation("unpin:get-rw", "", "", skip="see gup:get-rw", cite=_DIO_PIN),
    Realisation("dma_read:pin-rw", "IORING_OP_WRITE_FIXED to a tmpfile + pread()",
                "dma_read_rw({check}, {h});",
                helpers=("ring", "dma_read_rw", "check_page", "check_buf"),
                cite=_COW_C + " do_test_iouring(): io_uring_prep_write_fixed() then pread()"),
    Realisation("dma_read:pin-ro", "gup_test PIN_LONGTERM_TEST_READ",
                "dma_read_ro({check}, {h});",
                helpers=("gup_test", "dma_read_ro", "check_page", "check_buf"),
                cite=_COW_C + " do_test_ro_pin(): PIN_LONGTERM_TEST_READ"),
    Realisation("dma_read:get-ro", "tee() + read() of the vmsplice pipe",
                "dma_read_pipe({check}, {h});",
                helpers=("dma_read_pipe", "check_page", "check_buf"),
                cite=_COW_C + " child_vmsplice_memcmp_fn(): read(fds[0]); tee() keeps the "
                "pipe's references for a later read"),
    Realisation("dma_read:get-rw", "", "", skip="see gup:get-rw", cite=_DIO_PIN),
    Realisation("dma_write:pin-rw", "pwrite() the token to a tmpfile + IORING_OP_READ_FIXED",
                "dma_write_rw({h}, {tok});", helpers=("ring", "dma_write_rw"),
                cite="io_uring/rw.c io_prep_read_fixed(): the device writes the pinned page"),
    Realisation("dma_write:pin-ro", "", "",
                skip="a device cannot write through a R/O pin (FOLL_WRITE not given)",
                cite="Documentation/core-api/pin_user_pages.rst"),
    Realisation("dma_write:get-ro", "", "",
                skip="a vmsplice()d pipe only reads the page; nothing writes through it",
                cite="fs/splice.c vmsplice_to_pipe()"),
    Realisation("dma_write:get-rw", "", "", skip="see gup:get-rw", cite=_DIO_PIN),
    Realisation("munmap", "munmap()",
                "if (munmap({page}, pagesize)) fail_error(\"munmap: %s\", strerror(errno));",
                cite=_COW_C + " test_vmsplice_*: munmap(mem, size)"),
    Realisation("dontneed", "madvise(MADV_DONTNEED)",
                "if (madvise({page}, pagesize, MADV_DONTNEED)) fail_error(\"MADV_DONTNEED: "
                "%s\", strerror(errno));",
                cite="mm/madvise.c: zap_page_range_single(); the VMA stays, the next access "
                "faults a new page (the model's munmap followed by an access)"),
    Realisation("mprotect", "mprotect()",
                "if (mprotect({page}, pagesize, {prot})) fail_error(\"mprotect: %s\", "
                "strerror(errno));",
                cite=_COW_C + " do_test_cow_in_parent(do_mprotect=true)"),
    Realisation("clear_refs", "write \"4\" to /proc/self/clear_refs",
                "clear_softdirty();", helpers=("pagemap", "clear_softdirty"),
                needs=("soft_dirty",),
                cite=_COW_C + " clear_softdirty() (vm_util.c); fs/proc/task_mmu.c "
                "clear_refs_write(CLEAR_REFS_SOFT_DIRTY) needs CONFIG_MEM_SOFT_DIRTY"),
    Realisation("swapout", "madvise(MADV_PAGEOUT) + /proc/self/pagemap bit 62",
                "swapout({page}, {need}, {step});", helpers=("pagemap", "swapout"), needs=("swap",),
                cite=_COW_C + " range_is_swapped() after MADV_PAGEOUT; "
                "Documentation/admin-guide/mm/pagemap.rst (bit 62: swapped)"),
    Realisation("migrate", "move_pages(2)", "", cite="mm/migrate.c do_move_pages_to_node()",
                skip="move_pages(2) needs a second NUMA node to move the page to, and no call "
                "holds the page in its migration window while the other steps run, so the "
                "model's interleavings cannot be forced from user space"),
    Realisation("final", "load of every page the process still maps",
                "check_page({check}, {page});", helpers=("check_page",),
                cite="the oracle's view check (oracle.py) at the end of the scenario"),
)

#: key -> Realisation: the one table.
TABLE: Mapping[str, Realisation] = MappingProxyType({r.key: r for r in _ROWS})


def gup_variant(pin: bool, rw: bool) -> str:
    """The variant name of a GUP handle: ``pin-rw``, ``pin-ro``, ``get-rw`` or ``get-ro``."""
    return ("pin-" if pin else "get-") + ("rw" if rw else "ro")


def realise(key: str) -> Realisation:
    """The table row for ``key`` (KeyError names the known keys)."""
    if key not in TABLE:
        raise KeyError(f"no realisation for {key!r}; known: {', '.join(TABLE)}")
    return TABLE[key]


#: C helper functions the snippets call, by name (emitted once each, in this order).
HELPERS: Mapping[str, str] = MappingProxyType({
    "check_page": r"""
static void check_page(int c, const unsigned char *p)
{
	size_t i;

	ctl->got[c] = p[0];
	ctl->mix[c] = 0;
	for (i = 0; i < pagesize; i++) {
		if (p[i] != p[0])
			ctl->torn[c] = 1;
		/* every value in the page: a write racing with this read tears it */
		ctl->mix[c] |= p[i] < 63 ? 1ULL << p[i] : 1ULL << 63;
	}
	ctl->seen[c] = 1;
}
""",
    "check_buf": r"""
static void check_buf(int c, const unsigned char *p, ssize_t n)
{
	if (n != (ssize_t)pagesize)
		fail_error("check %d: read %zd bytes, expected %zu", c + 1, n, pagesize);
	check_page(c, p);
}
""",
    "ring": r"""
struct ring {
	int fd;
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_init(struct ring *r)
{
	struct io_uring_params p;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	r->fd = syscall(__NR_io_uring_setup, 4, &p);
	if (r->fd < 0)
		return -errno;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned),
			PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
			PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
			PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED)
		return -errno;
	r->sq_head = (unsigned *)(sq + p.sq_off.head);
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

/* One IORING_OP_{READ,WRITE}_FIXED of a page at offset 0 of fd; the CQE's result. */
static int ring_rw_fixed(struct ring *r, int opcode, int fd, void *addr)
{
	unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask, head;
	struct io_uring_sqe *sqe = &r->sqes[idx];
	int ret;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = opcode;
	sqe->fd = fd;
	sqe->addr = (unsigned long)addr;
	sqe->len = pagesize;
	sqe->buf_index = 0;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	ret = syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
	if (ret < 0)
		return -errno;
	head = __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	ret = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return ret;
}

static struct ring rings[NHANDLES];
static void *ring_buf[NHANDLES];
""",
    "pin_rw": r"""
/* A long-term R/W pin: register the page as an io_uring fixed buffer. */
static void pin_rw(int h, void *page)
{
	struct iovec iov = { .iov_base = page, .iov_len = pagesize };
	int ret = ring_init(&rings[h]);

	if (ret)
		skip_iter("io_uring_setup() failed: %s", strerror(-ret));
	if (syscall(__NR_io_uring_register, rings[h].fd, IORING_REGISTER_BUFFERS, &iov, 1))
		skip_iter("IORING_REGISTER_BUFFERS failed: %s", strerror(errno));
	ring_buf[h] = page;
}
""",
    "unpin_rw": r"""
static void unpin_rw(int h)
{
	if (syscall(__NR_io_uring_register, rings[h].fd, IORING_UNREGISTER_BUFFERS, NULL, 0))
		fail_error("IORING_UNREGISTER_BUFFERS: %s", strerror(errno));
	close(rings[h].fd);
}
""",
    "dma_read_rw": r"""
/* The device reads the pinned page: IORING_OP_WRITE_FIXED to a tmpfile, read it back. */
static void dma_read_rw(int c, int h)
{
	unsigned char *tmp = malloc(pagesize);
	FILE *file = tmpfile();
	int ret;

	if (!tmp || !file)
		fail_error("tmpfile: %s", strerror(errno));
	ret = ring_rw_fixed(&rings[h], IORING_OP_WRITE_FIXED, fileno(file), ring_buf[h]);
	if (ret != (int)pagesize)
		fail_error("IORING_OP_WRITE_FIXED: %s", ret < 0 ? strerror(-ret) : "short");
	check_buf(c, tmp, pread(fileno(file), tmp, pagesize, 0));
	fclose(file);
	free(tmp);
}
""",
    "dma_write_rw": r"""
/* The device writes the pinned page: IORING_OP_READ_FIXED from a tmpfile holding the token. */
static void dma_write_rw(int h, int tok)
{
	unsigned char *tmp = malloc(pagesize);
	FILE *file = tmpfile();
	int ret;

	if (!tmp || !file)
		fail_error("tmpfile: %s", strerror(errno));
	memset(tmp, tok, pagesize);
	if (pwrite(fileno(file), tmp, pagesize, 0) != (ssize_t)pagesize)
		fail_error("pwrite: %s", strerror(errno));
	ret = ring_rw_fixed(&rings[h], IORING_OP_READ_FIXED, fileno(file), ring_buf[h]);
	if (ret != (int)pagesize)
		fail_error("IORING_OP_READ_FIXED: %s", ret < 0 ? strerror(-ret) : "short");
	fclose(file);
	free(tmp);
}
""",
    "gup_test": r"""
/* mm/gup_test.h (CONFIG_GUP_TEST), as cow.c uses it. */
struct pin_longterm_test {
	uint64_t addr;
	uint64_t size;
	uint32_t flags;
};
#define PIN_LONGTERM_TEST_START _IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP _IO('g', 8)
#define PIN_LONGTERM_TEST_READ _IOW('g', 9, uint64_t)
#define PIN_LONGTERM_TEST_FLAG_USE_FAST 2
static int gup_fds[NHANDLES];
""",
    "pin_ro": r"""
/* A long-term R/O pin through gup_test, as cow.c's do_test_ro_pin(). */
static void pin_ro(int h, void *page, int fast)
{
	struct pin_longterm_test args = {
		.addr = (uint64_t)(uintptr_t)page, .size = pagesize,
		.flags = fast ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0,
	};

	gup_fds[h] = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (gup_fds[h] < 0)
		skip_iter("gup_test not available: %s", strerror(errno));
	if (ioctl(gup_fds[h], PIN_LONGTERM_TEST_START, &args))
		skip_iter("PIN_LONGTERM_TEST_START: %s", strerror(errno));
}
""",
    "unpin_ro": r"""
static void unpin_ro(int h)
{
	if (ioctl(gup_fds[h], PIN_LONGTERM_TEST_STOP))
		fail_error("PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
	close(gup_fds[h]);
}
""",
    "dma_read_ro": r"""
static void dma_read_ro(int c, int h)
{
	unsigned char *tmp = malloc(pagesize);
	uint64_t where = (uint64_t)(uintptr_t)tmp;

	if (!tmp || ioctl(gup_fds[h], PIN_LONGTERM_TEST_READ, &where))
		fail_error("PIN_LONGTERM_TEST_READ: %s", strerror(errno));
	check_buf(c, tmp, pagesize);
	free(tmp);
}
""",
    "get_ro": r"""
/* A R/O FOLL_GET: vmsplice() the page into a pipe, as cow.c's vmsplice tests. */
static int pipes[NHANDLES][2];

static void get_ro(int h, void *page)
{
	struct iovec iov = { .iov_base = page, .iov_len = pagesize };

	if (pipe(pipes[h]))
		fail_error("pipe: %s", strerror(errno));
	if (vmsplice(pipes[h][1], &iov, 1, 0) != (ssize_t)pagesize)
		fail_error("vmsplice: %s", strerror(errno));
}
""",
    "put_ro": r"""
static void put_ro(int h)
{
	close(pipes[h][0]);
	close(pipes[h][1]);
}
""",
    "dma_read_pipe": r"""
/* Read what the pipe holds without consuming it: tee() into a scratch pipe, read that. */
static void dma_read_pipe(int c, int h)
{
	unsigned char *tmp = malloc(pagesize);
	ssize_t total = 0, cur;
	int scratch[2];

	if (!tmp || pipe(scratch))
		fail_error("pipe: %s", strerror(errno));
	if (tee(pipes[h][0], scratch[1], pagesize, 0) != (ssize_t)pagesize)
		fail_error("tee: %s", strerror(errno));
	while (total < (ssize_t)pagesize) {
		cur = read(scratch[0], tmp + total, pagesize - total);
		if (cur <= 0)
			fail_error("read: %s", strerror(errno));
		total += cur;
	}
	check_buf(c, tmp, total);
	close(scratch[0]);
	close(scratch[1]);
	free(tmp);
}
""",
    "pagemap": r"""
/* /proc/self/pagemap: bit 63 present, bit 62 swapped, bit 55 soft-dirty. */
static uint64_t pagemap_entry(void *addr) __attribute__((unused));
static uint64_t pagemap_entry(void *addr)
{
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0 || pread(fd, &ent, sizeof(ent),
				(uintptr_t)addr / pagesize * sizeof(ent)) != sizeof(ent))
		fail_error("pagemap: %s", strerror(errno));
	close(fd);
	return ent;
}
""",
    "clear_softdirty": r"""
static void clear_softdirty(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);

	if (fd < 0 || write(fd, "4", 1) != 1)
		fail_error("clear_refs: %s", strerror(errno));
	close(fd);
}
""",
    "swapout": r"""
/*
 * Reclaim the page (MADV_PAGEOUT); when need, it must end up swapped (pagemap bit 62).
 * A page still in another CPU's LRU batch is not isolated: retry from each CPU in turn
 * (madvise_pageout() drains the calling CPU's batch first), then give up with a SKIP.
 */
static void swapout(void *page, int need, int step)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), i;
	cpu_set_t old, one;

	sched_getaffinity(0, sizeof(old), &old);
	for (i = 0; i < 2 * ncpu + 1; i++) {
		if (madvise(page, pagesize, MADV_PAGEOUT))
			skip_iter("MADV_PAGEOUT: %s", strerror(errno));
		if (!need || pagemap_entry(page) >> 62 & 1)
			break;
		CPU_ZERO(&one);
		CPU_SET(i % ncpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
	}
	sched_setaffinity(0, sizeof(old), &old);
	if (pagemap_entry(page) >> 62 & 1)
		ctl->swapped[step] = 1;
	if (need && !(pagemap_entry(page) >> 62 & 1))
		skip_iter("MADV_PAGEOUT left the page in memory from every CPU");
}
""",
})

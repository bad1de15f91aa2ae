package ptlab.tools;

import static ptlab.kernel.Kernel.MAP_ANONYMOUS;
import static ptlab.kernel.Kernel.MAP_FIXED;
import static ptlab.kernel.Kernel.MAP_PRIVATE;
import static ptlab.kernel.Kernel.PROT_EXEC;
import static ptlab.kernel.Kernel.PROT_NONE;
import static ptlab.kernel.Kernel.PROT_READ;
import static ptlab.kernel.Kernel.PROT_WRITE;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.kernel.Cpu;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Task;

/**
 * The named scenarios of {@code ptlab ptdump}: a kernel booted and driven through its public
 * system calls and user accesses, leaving page tables worth looking at. Each names the mms it
 * leaves ({@code kernel} is always init_mm) and which one is dumped by default.
 */
public enum PtdumpScenario {

    BOOT("boot", "init_mm after boot: the direct map of RAM at PAGE_OFFSET, with the largest pages the mode allows",
            "kernel") {
        @Override
        void run(Kernel k, Map<String, MmStruct> mms) {
        }
    },

    PROCESS("process", "a process with text (written, then r-x), data, heap (brk), an anonymous mmap and its stack, "
            + "each touched in part; reads of untouched anonymous memory map the zero page read-only; "
            + "one page made PROT_NONE", "process") {
        @Override
        void run(Kernel k, Map<String, MmStruct> mms) {
            Cpu cpu = k.cpu(0);
            Task t = start(k, cpu);
            long text = textBase(k);
            check(k.mmap(t, text, TEXT_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), text);
            touch(k, cpu, text, 3, AccessType.WRITE);                       // "load" three pages of code
            check(k.mprotect(t, text, TEXT_BYTES, PROT_READ | PROT_EXEC), 0);
            long data = text + TEXT_BYTES;
            check(k.mmap(t, data, DATA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), data);
            touch(k, cpu, data, 2, AccessType.WRITE);
            long heap = k.brk(t, 0);
            check(k.brk(t, heap + HEAP_BYTES), heap + HEAP_BYTES);
            touch(k, cpu, heap, 5, AccessType.WRITE);
            long anon = mapAnon(k, t, ANON_BYTES);
            touch(k, cpu, anon, 2, AccessType.READ);                         // the zero page, read-only
            touch(k, cpu, anon + 2 * PAGE, 4, AccessType.WRITE);
            touch(k, cpu, anon + 6 * PAGE, 1, AccessType.WRITE);
            check(k.mprotect(t, anon + 6 * PAGE, PAGE, PROT_NONE), 0);       // a PROT_NONE pte: not present, not empty
            long stackTop = t.mm().startStack();
            touch(k, cpu, stackTop - 2 * PAGE, 2, AccessType.WRITE);
            mms.put("process", t.mm());
        }
    },

    FORK_COW("fork-cow", "a parent writes 8 anonymous pages and forks: both now map them read-only (copy-on-write); "
            + "then the parent writes page 2 and gets its own writable copy", "parent", "child") {
        @Override
        void run(Kernel k, Map<String, MmStruct> mms) {
            Cpu cpu = k.cpu(0);
            Task parent = start(k, cpu);
            long a = mapAnon(k, parent, 8 * PAGE);
            touch(k, cpu, a, 8, AccessType.WRITE);
            Task child = k.fork(parent);
            if (child == null) {
                throw new IllegalStateException("fork failed: out of memory");
            }
            touch(k, cpu, a + 2 * PAGE, 1, AccessType.WRITE);                // COW break in the parent
            mms.put("parent", parent.mm());
            mms.put("child", child.mm());
        }
    },

    THP("thp", "x86-64/la57 with transparent huge pages: 4 MiB anonymous, both 2 MiB pages faulted in whole (pmd "
            + "leaves); then the first half of the second one is made read-only, which splits it into 512 ptes",
            "process") {
        @Override
        KernelConfig config(PagingMode mode) {
            if (!mode.isLongMode()) {
                throw new IllegalArgumentException("scenario thp needs x86-64 or x86-64-la57: ptlab models "
                        + "transparent huge pages for 4/5-level paging only, not " + mode);
            }
            return super.config(mode).withThp(true);
        }

        @Override
        void run(Kernel k, Map<String, MmStruct> mms) {
            Cpu cpu = k.cpu(0);
            Task t = start(k, cpu);
            long a = mapAnon(k, t, 2 * HPAGE);
            touch(k, cpu, a, 1, AccessType.WRITE);                           // one fault maps 2 MiB
            touch(k, cpu, a + HPAGE, 1, AccessType.WRITE);
            check(k.mprotect(t, a + HPAGE, HPAGE / 2, PROT_READ), 0);        // __split_huge_pmd
            mms.put("process", t.mm());
        }
    };

    static final long PAGE = 4096;
    static final long HPAGE = 2L << 20;
    static final long TEXT_BYTES = 64L << 10;
    static final long DATA_BYTES = 16L << 10;
    static final long HEAP_BYTES = 128L << 10;
    static final long ANON_BYTES = 1L << 20;
    /** RAM of every scenario: 1.5 GiB, so the x86-64 direct map has a 1 GiB page and 2 MiB pages. */
    static final long RAM = 1536L << 20;

    private final String cliName;
    private final String description;
    private final List<String> mmNames;

    PtdumpScenario(String cliName, String description, String... mmNames) {
        this.cliName = cliName;
        this.description = description;
        List<String> names = new ArrayList<>(List.of(mmNames));
        if (!names.contains("kernel")) {
            names.add("kernel");
        }
        this.mmNames = List.copyOf(names);
    }

    public String cliName() {
        return cliName;
    }

    public String description() {
        return description;
    }

    /** The mm dumped when none is named. */
    public String defaultMm() {
        return mmNames.get(0);
    }

    /** The kernel configuration the scenario boots with. */
    KernelConfig config(PagingMode mode) {
        return KernelConfig.defaults().withRam(RAM);
    }

    abstract void run(Kernel k, Map<String, MmStruct> mms);

    /** What a scenario leaves: the kernel, and its mms by name ("kernel" first). */
    public record Result(PtdumpScenario scenario, Kernel kernel, Map<String, MmStruct> mms) {
        /** The mm called {@code name}; the message lists the names there are. */
        public MmStruct mm(String name) {
            MmStruct m = mms.get(name);
            if (m == null) {
                throw new IllegalArgumentException("scenario " + scenario.cliName + " has no mm '" + name
                        + "' (expected one of " + String.join(", ", mms.keySet()) + ")");
            }
            return m;
        }
    }

    /** Boots a kernel in {@code mode} and runs the scenario; IllegalArgumentException if it does not apply to the mode. */
    public Result build(PagingMode mode) {
        Kernel k = new Kernel(mode, config(mode));
        Map<String, MmStruct> mms = new LinkedHashMap<>();
        mms.put("kernel", k.initMm());
        run(k, mms);
        if (!mms.keySet().equals(java.util.Set.copyOf(mmNames()))) {
            throw new IllegalStateException("scenario " + cliName + " left mms " + mms.keySet() + ", declared " + mmNames());
        }
        return new Result(this, k, Collections.unmodifiableMap(mms));
    }

    /** The mm names the scenario leaves, the default first; {@code kernel} is init_mm. */
    public List<String> mmNames() {
        return mmNames;
    }

    public static PtdumpScenario fromCliName(String name) {
        for (PtdumpScenario s : values()) {
            if (s.cliName.equals(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown scenario '" + name + "' (expected one of "
                + Arrays.stream(values()).map(PtdumpScenario::cliName).collect(Collectors.joining(", ")) + ")");
    }

    // ---- helpers -------------------------------------------------------------------------------

    private static Task start(Kernel k, Cpu cpu) {
        Task t = k.createProcess();
        if (t == null) {
            throw new IllegalStateException("out of memory creating a process");
        }
        k.switchTo(cpu, t);
        return t;
    }

    /** Where the text segment goes: the classic ELF base on x86-32, the PIE base on x86-64. */
    private static long textBase(Kernel k) {
        return k.mode().isLongMode() ? 0x5555_5555_4000L : 0x0804_8000L;
    }

    /** mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS), which must succeed. */
    private static long mapAnon(Kernel k, Task t, long len) {
        long a = k.mmap(t, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        check(a < 0 ? a : 0, 0);
        return a;
    }

    /** {@code pages} user accesses of {@code type}, one per page from {@code va}; each must succeed. */
    private static void touch(Kernel k, Cpu cpu, long va, int pages, AccessType type) {
        for (int i = 0; i < pages; i++) {
            long pa = k.access(cpu, va + i * PAGE, type);
            if (pa < 0) {
                throw new IllegalStateException(String.format("scenario access %s at 0x%x failed: %d", type, va + i * PAGE, pa));
            }
        }
    }

    /** A system call in a scenario must return what it expects; anything else is a bug in the scenario or the kernel. */
    private static void check(long got, long expected) {
        if (got != expected) {
            throw new IllegalStateException("scenario system call returned " + got + ", expected " + expected);
        }
    }
}

package ptlab.tools;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import ptlab.hw.AccessType;
import ptlab.hw.CpuRegisters;
import ptlab.hw.Mmu;
import ptlab.hw.PageFaultError;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.Pte32;
import ptlab.hw.Pte64;
import ptlab.hw.PteBits;
import ptlab.hw.TlbConfig;
import ptlab.hw.WalkResult;

/**
 * The translation explorer of {@code ptlab serve}: one CPU of a paging mode with a small
 * address space, the way a kernel would have set it up, and a TLB that keeps its state between
 * requests. {@link #translate} runs one access through the {@link Mmu} (TLB lookup, walk, A/D
 * update, permission checks, SDM vol. 3 ch. 4) and reports each level's index and entry,
 * decoded, after the access, the fault with its error code or the physical address, and what
 * the TLB holds for the addresses translated so far.
 *
 * <p>The address space ({@link #sample}): user text (read-only, executable), user data
 * (read-write, NX where the mode has it), a read-only page, a large page (4 MiB on x86-32,
 * 2 MiB elsewhere), and a supervisor global page at the kernel's direct map. Everything else
 * is unmapped. Not thread-safe: the server serialises requests on it.
 */
public final class TranslationExplorer {

    /** One sample mapping: where, what it maps, how (for the page's help text). */
    public record Mapping(long va, long pa, long size, String what) {
    }

    /** One level of the walk, top first: its index in the table and the entry there, after the access. */
    public record Level(int level, String name, String hardwareName, int index, long entryAddress, long entry,
                        String bits, boolean leaf) {
    }

    /** One TLB entry the CPU holds now, for a page translated earlier. */
    public record TlbLine(long page, long pageSize, long frame, boolean dirty, boolean global) {
    }

    public record Result(PagingMode mode, long va, AccessType access, boolean user, boolean tlbHit,
                         List<Level> levels, boolean fault, String exception, int errorCode, String errorText,
                         long pa, long pageSize, long hits, long misses, long walks, List<TlbLine> tlb) {
    }

    private static final long MEMORY_BYTES = 0x8000_0000L;
    private static final long FIRST_TABLE = 0x1000;

    private final PagingMode mode;
    private final PhysicalMemory memory = new PhysicalMemory(MEMORY_BYTES);
    private final CpuRegisters regs;
    private final Mmu mmu;
    private final long root = FIRST_TABLE;
    private long nextTable = FIRST_TABLE + PhysicalMemory.PAGE_SIZE;
    private final List<Mapping> mappings = new ArrayList<>();
    private final Set<Long> translated = new LinkedHashSet<>();

    public TranslationExplorer(PagingMode mode) {
        this.mode = mode;
        this.regs = new CpuRegisters(mode);
        regs.setWp(true);
        regs.setNxe(mode.hasNx());
        regs.setPse(true);
        regs.setPge(true);
        this.mmu = new Mmu(memory, regs, TlbConfig.DEFAULT);
        memory.zeroFrame(root);
        sample();
        if (!mmu.writeCr3(root)) {
            throw new IllegalStateException("CR3 load failed for the sample tables of " + mode);
        }
    }

    public PagingMode mode() {
        return mode;
    }

    public List<Mapping> mappings() {
        return mappings;
    }

    private void sample() {
        long nx = mode.hasNx() ? Pte64.NX : 0;
        long user = PteBits.P | PteBits.US;
        map(0x0040_0000L, 0x0010_0000L, 1, user, "user text: read-only, executable");
        map(0x0060_1000L, 0x0010_1000L, 1, user | PteBits.RW | nx, "user data: read-write" + (nx != 0 ? ", NX" : ""));
        map(0x0060_2000L, 0x0010_2000L, 1, user | PteBits.RW | nx, "user data: read-write" + (nx != 0 ? ", NX" : ""));
        map(0x0060_3000L, 0x0010_3000L, 1, user | nx, "user rodata: read-only" + (nx != 0 ? ", NX" : ""));
        map(0x0080_0000L, 0x0080_0000L, 2, user | PteBits.RW, "user large page: read-write");
        long kernel = mode.isLongMode() ? 0xffff_8880_0010_0000L : 0xc010_0000L;
        map(kernel, 0x0010_0000L, 1, PteBits.P | PteBits.RW | PteBits.G | nx,
                "kernel direct map: supervisor, read-write, global" + (nx != 0 ? ", NX" : ""));
    }

    /** Maps one page with its leaf at {@code leafLevel} (1: 4 KiB, 2: a PDE with PS), as the kernel's set_pte would. */
    private void map(long va, long pa, int leafLevel, long leafFlags, String what) {
        long table = root;
        for (int level = mode.levels(); level > leafLevel; level--) {
            long addr = entryAddress(table, va, level);
            long e = memory.loadEntry(addr, mode.entryBytes());
            if (!PteBits.present(e)) {
                long t = nextTable;
                nextTable += PhysicalMemory.PAGE_SIZE;
                memory.zeroFrame(t);
                // a PAE PDPTE has no R/W or U/S (SDM 4.4.1): those bits are reserved there
                e = t | (mode.isPae() && level == 3 ? PteBits.P : PteBits.P | PteBits.RW | PteBits.US);
                memory.storeEntry(addr, mode.entryBytes(), e);
            }
            table = tableAddress(e);
        }
        long leaf = leafLevel > 1 ? leafFlags | PteBits.PS
                | (mode == PagingMode.X86_32 ? Pte32.encodeLargeAddress(pa) : pa) : leafFlags | pa;
        memory.storeEntry(entryAddress(table, va, leafLevel), mode.entryBytes(), leaf);
        mappings.add(new Mapping(va, pa, 1L << mode.shift(leafLevel), what));
    }

    private long entryAddress(long table, long va, int level) {
        return table + (long) mode.index(va, level) * mode.entryBytes();
    }

    private long tableAddress(long e) {
        return mode == PagingMode.X86_32 ? Pte32.address(e) : Pte64.address(e, regs.maxPhyAddr(), 12);
    }

    /** One access by this CPU; a va the mode cannot hold (over 32 bits on x86-32) is an IllegalArgumentException. */
    public Result translate(long va, AccessType access, boolean user) {
        if (!mode.isLongMode() && (va >>> 32) != 0) {
            throw new IllegalArgumentException(String.format("address 0x%x does not fit the 32-bit linear "
                    + "addresses of %s", va, mode.cliName()));
        }
        boolean hit = mmu.tlb().probe(va, regs.pcid()) >= 0;
        WalkResult out = new WalkResult();
        boolean ok = mmu.translate(va, access, user, false, out);
        if (mode.isCanonical(va)) {
            translated.add(va & ~(PhysicalMemory.PAGE_SIZE - 1L));
        }
        List<Level> levels = levels(va);
        String exc = ok ? null : out.exception == WalkResult.EXC_GP ? "#GP" : "#PF";
        String text = ok ? null : out.exception == WalkResult.EXC_GP ? "general protection (non-canonical address)"
                : PageFaultError.describe(out.errorCode);
        return new Result(mode, va, access, user, hit, levels, !ok, exc, ok ? 0 : out.errorCode, text,
                ok ? out.pa : 0, ok ? out.pageSize() : 0, mmu.hits(), mmu.misses(), mmu.walks(), tlbLines());
    }

    /** The walk path of {@code va} as memory holds it now: each level down to the leaf or the first non-present entry. */
    private List<Level> levels(long va) {
        List<Level> out = new ArrayList<>();
        if (!mode.isCanonical(va)) {
            return out;
        }
        long table = mode.isPae() ? regs.topTableAddress() : root;
        for (int level = mode.levels(); level >= 1; level--) {
            long addr = entryAddress(table, va, level);
            long e = memory.loadEntry(addr, mode.entryBytes());
            boolean large = level > 1 && mode.largePageAllowed(level) && PteBits.large(e);
            boolean leaf = PteBits.present(e) && (level == 1 || large);
            out.add(new Level(level, mode.linuxName(level), mode.hardwareName(level), mode.index(va, level), addr, e,
                    PteBits.describe(e), leaf));
            if (!PteBits.present(e) || leaf) {
                break;
            }
            table = tableAddress(e);
        }
        return out;
    }

    private List<TlbLine> tlbLines() {
        List<TlbLine> out = new ArrayList<>();
        Set<Long> seen = new LinkedHashSet<>();
        for (long page : translated) {
            int slot = mmu.tlb().probe(page, regs.pcid());
            if (slot < 0) {
                continue;
            }
            long size = 1L << mmu.tlb().pageShift(slot);
            long base = page & -size;
            if (seen.add(base)) {
                out.add(new TlbLine(base, size, mmu.tlb().frame(slot), mmu.tlb().dirty(slot), mmu.tlb().global(slot)));
            }
        }
        return out;
    }

    /** A CR3 reload without PCIDs: drops every non-global TLB entry (SDM 4.10.4.1); global ones stay. */
    public void reloadCr3() {
        mmu.writeCr3(root);
    }

    /** INVLPG of {@code va}'s page. */
    public void invlpg(long va) {
        mmu.invlpg(va);
    }
}

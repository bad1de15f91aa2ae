package ptlab.tools;

import java.util.List;

import ptlab.hw.AccessType;
import ptlab.hw.CpuRegisters;
import ptlab.hw.PageWalker;
import ptlab.hw.PagingMode;
import ptlab.hw.PaePdpte;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.Pte32;
import ptlab.hw.Pte64;
import ptlab.hw.PteBits;
import ptlab.hw.WalkResult;

/**
 * One translation request of {@code ptlab mmu probe}: builds a single walk path in fresh
 * physical memory from entry descriptions, sets up a CPU's control registers, translates
 * the address once, and reports the outcome and the A/D bits left in memory.
 *
 * <p>Placement: the top-level table (or the 32-byte PAE PDPT) is at 0x1000 and each next
 * table at the next 4 KiB frame; the final page is at 0x4000_0000 (aligned for every page
 * size), so {@code pa = 0x4000_0000 + (va & (page_size - 1))}.
 */
public final class MmuProbe {

    public static final long FIRST_TABLE = 0x1000;
    public static final long PAGE_FRAME = 0x4000_0000L;
    private static final long MEMORY_BYTES = 0x8000_0000L;

    /** CPU state of a request; fields follow the DESIGN.md contract. */
    public record Cpu(boolean wp, boolean nxe, boolean smep, boolean smap, boolean ac, boolean pke, int pkru,
                      boolean pcide, Integer maxPhyAddr) {
    }

    /** One entry of the path, top level first. {@code rsvd} lists reserved bit numbers to set. */
    public record Entry(boolean p, boolean rw, boolean us, boolean a, boolean d, boolean ps, boolean nx, int pkey,
                        boolean pwt, boolean pcd, boolean g, List<Integer> rsvd) {
    }

    public record Request(PagingMode mode, Cpu cpu, long va, AccessType access, boolean user, boolean implicit,
                          List<Entry> path) {
    }

    /**
     * The outcome. {@code exception} is "#PF", "#GP" or null; {@code gpAtCr3Load} marks a PAE
     * PDPTE with reserved bits refused at CR3 load. {@code accessed[i]} is the A bit of path
     * entry i in memory after the access, {@code dirty} the D bit of the last entry.
     */
    public record Result(boolean fault, String exception, int errorCode, String faultEntry, boolean gpAtCr3Load,
                         long pa, long pageSize, int[] accessed, int dirty) {
    }

    /** A request that cannot be built; the message names what is wrong. */
    public static final class BadRequest extends RuntimeException {
        public BadRequest(String message) {
            super(message);
        }
    }

    private MmuProbe() {
    }

    public static Result run(Request req) {
        PagingMode mode = req.mode();
        int maxPhy = req.cpu().maxPhyAddr() != null ? req.cpu().maxPhyAddr() : mode.defaultMaxPhyAddr();
        if (maxPhy < 32 || maxPhy > mode.maxMaxPhyAddr()) {
            throw new BadRequest("maxphyaddr " + maxPhy + " is outside 32.." + mode.maxMaxPhyAddr() + " for " + mode);
        }
        CpuRegisters regs = configure(mode, maxPhy, req.cpu());
        if (req.access() == AccessType.FETCH && req.implicit()) {
            throw new BadRequest("an implicit supervisor-mode access is a data access, not a fetch");
        }
        if (!mode.isLongMode() && (req.va() >>> 32) != 0) {
            throw new BadRequest(String.format("va 0x%x does not fit the 32-bit linear addresses of %s", req.va(), mode));
        }
        List<Entry> path = req.path();
        if (path.size() > mode.levels()) {
            throw new BadRequest("path has " + path.size() + " entries but " + mode + " has " + mode.levels() + " levels");
        }
        PhysicalMemory memory = new PhysicalMemory(MEMORY_BYTES);
        long[] entryAddress = new long[path.size()];
        long table = FIRST_TABLE;
        for (int i = 0; i < path.size(); i++) {
            int level = mode.levels() - i;
            Entry en = path.get(i);
            boolean endsPath = en.ps() && level > 1;
            if (endsPath && i != path.size() - 1) {
                throw new BadRequest("path entry " + i + " (" + mode.hardwareName(level)
                        + ") has ps:1 and ends the walk, but " + (path.size() - 1 - i) + " entries follow it");
            }
            long next = table + PhysicalMemory.PAGE_SIZE;
            long target = (level == 1 || endsPath) ? PAGE_FRAME : next;
            long value = encode(mode, level, en, target, maxPhy, regs.nxe());
            entryAddress[i] = table + (long) mode.index(req.va(), level) * mode.entryBytes();
            memory.storeEntry(entryAddress[i], mode.entryBytes(), value);
            table = next;
        }
        regs.setCr3(FIRST_TABLE);
        PageWalker walker = new PageWalker(memory);
        WalkResult out = new WalkResult();
        boolean ok;
        boolean gpAtLoad = false;
        if (mode.isPae() && !walker.loadPdptes(regs)) {
            ok = false;
            gpAtLoad = true;
        } else {
            ok = walker.translate(regs, req.va(), req.access(), req.user(), req.implicit(), out);
        }
        int[] accessed = new int[path.size()];
        int dirty = 0;
        for (int i = 0; i < path.size(); i++) {
            long e = memory.loadEntry(entryAddress[i], mode.entryBytes());
            accessed[i] = PteBits.accessed(e) ? 1 : 0;
            if (i == path.size() - 1) {
                dirty = PteBits.dirty(e) ? 1 : 0;
            }
        }
        if (gpAtLoad) {
            return new Result(true, "#GP", 0, mode.hardwareName(3), true, 0, 0, accessed, dirty);
        }
        if (!ok) {
            String exc = out.exception == WalkResult.EXC_GP ? "#GP" : "#PF";
            String where = out.exception == WalkResult.EXC_PF ? mode.hardwareName(out.faultLevel) : null;
            return new Result(true, exc, out.errorCode, where, false, 0, 0, accessed, dirty);
        }
        return new Result(false, null, 0, null, false, out.pa, out.pageSize(), accessed, dirty);
    }

    private static CpuRegisters configure(PagingMode mode, int maxPhy, Cpu cpu) {
        CpuRegisters regs = new CpuRegisters(mode, maxPhy);
        regs.setWp(cpu.wp());
        regs.setNxe(cpu.nxe());
        regs.setSmep(cpu.smep());
        regs.setSmap(cpu.smap());
        regs.setAc(cpu.ac());
        regs.setPke(cpu.pke());
        regs.setPkru(cpu.pkru());
        if (cpu.pcide()) {
            if (!mode.isLongMode()) {
                throw new BadRequest("pcide needs 4- or 5-level paging, not " + mode);
            }
            regs.setPcide(true);
        }
        return regs;
    }

    /** Encodes one path entry in the hardware format of {@code level}, pointing at {@code target}. */
    static long encode(PagingMode mode, int level, Entry en, long target, int maxPhy, boolean nxe) {
        String name = mode.hardwareName(level);
        boolean large = en.ps() && level > 1;
        long v = 0;
        if (en.p()) v |= PteBits.P;
        if (en.rw()) v |= PteBits.RW;
        if (en.us()) v |= PteBits.US;
        if (en.pwt()) v |= PteBits.PWT;
        if (en.pcd()) v |= PteBits.PCD;
        if (en.a()) v |= PteBits.A;
        if (en.d()) v |= PteBits.D;
        if (en.ps()) v |= PteBits.PS;
        if (en.g()) v |= PteBits.G;
        if (en.nx()) {
            if (!mode.hasNx()) {
                throw new BadRequest(name + " of " + mode + " has no NX bit (32-bit paging has no execute-disable)");
            }
            v |= Pte64.NX;
        }
        if (en.pkey() != 0) {
            if (!mode.isLongMode()) {
                throw new BadRequest("protection keys need 4- or 5-level paging, not " + mode);
            }
            if (en.pkey() < 0 || en.pkey() > 15) {
                throw new BadRequest("pkey " + en.pkey() + " is outside 0..15");
            }
            v = Pte64.withPkey(v, en.pkey());
        }
        if (mode == PagingMode.X86_32) {
            v |= large ? Pte32.encodeLargeAddress(target) : target;
        } else {
            v |= target;
        }
        long reserved = mode.isPae() && level == 3 ? PaePdpte.reservedMask(maxPhy)
                : PageWalker.reservedMask(mode, level, large && mode.largePageAllowed(level), maxPhy, nxe);
        for (int bit : en.rsvd()) {
            if (bit < 0 || bit > (mode.entryBytes() * 8 - 1) || (reserved & (1L << bit)) == 0) {
                throw new BadRequest(String.format("bit %d is not reserved in a%s %s of %s (MAXPHYADDR %d, NXE %d)",
                        bit, large ? " large-page" : "", name, mode, maxPhy, nxe ? 1 : 0));
            }
            v |= 1L << bit;
        }
        return v;
    }
}

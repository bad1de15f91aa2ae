package ptlab.hw;

/**
 * The x86 page walker: translates a linear address by reading the paging structures from
 * {@link PhysicalMemory}, exactly as SDM vol. 3 chapter 4 describes, in all four modes.
 *
 * <ol>
 * <li>Walk from CR3 (or the PAE PDPTE registers) down: a not-present entry ends the walk with
 *     #PF P=0; a present entry with a reserved bit with #PF P=1,RSVD=1 (4.3–4.5, 4.7).</li>
 * <li>R/W, U/S and XD are combined over all levels (4.6.1): writable only if every R/W=1,
 *     a user-mode address only if every U/S=1, execute-disabled if any XD=1 (with NXE).</li>
 * <li>The access is checked against those rights with CR0.WP, CR4.SMEP, CR4.SMAP/EFLAGS.AC
 *     (explicit vs implicit supervisor accesses) and protection keys/PKRU (4.6, 4.6.2).</li>
 * <li>Only if the translation succeeds, the accessed flag is set in every entry used and, for
 *     a write, the dirty flag in the leaf (4.8), each with a compare-and-swap; if the entry
 *     changed since it was read, the walk restarts from the top, as the hardware's locked
 *     update does. A faulting access sets neither flag.</li>
 * </ol>
 *
 * <p>The walker allocates nothing: results go into a caller-owned {@link WalkResult}, and the
 * entries read are remembered in fixed arrays. One walker per simulated CPU (not thread-safe);
 * several walkers may share one memory.
 */
public final class PageWalker {

    private final PhysicalMemory memory;
    /** entryValue[level] = the entry read at that level on the current attempt. */
    private final long[] entryValue = new long[6];

    // Per-configuration constants of the walk, computed by prepare() when the mode, MAXPHYADDR
    // or EFER.NXE differs from the previous walk's: the reserved-bit masks of every level (for
    // a table entry and for a large-page entry) and the address mask of a next-table pointer.
    private PagingMode preparedMode;
    private int preparedMaxPhy;
    private boolean preparedNxe;
    private final long[] tableReserved = new long[6];
    private final long[] largeReserved = new long[6];
    private long nextTableMask;

    // The frame last read at each level: a frame's backing array never changes once created
    // (see PhysicalMemory#frameIfBacked), so a repeated walk reads each entry with one array
    // load instead of a directory lookup. framePfn[level] = -1: nothing remembered.
    private final long[] framePfn = {-1, -1, -1, -1, -1, -1};
    private final long[][] frame = new long[6][];

    public PageWalker(PhysicalMemory memory) {
        this.memory = memory;
    }

    public PhysicalMemory memory() {
        return memory;
    }

    private void prepare(PagingMode mode, int maxPhy, boolean nxe) {
        if (mode == preparedMode && maxPhy == preparedMaxPhy && nxe == preparedNxe) {
            return;
        }
        for (int level = 1; level <= mode.levels(); level++) {
            tableReserved[level] = reservedMask(mode, level, false, maxPhy, nxe);
            largeReserved[level] = reservedMask(mode, level, true, maxPhy, nxe);
        }
        nextTableMask = mode == PagingMode.X86_32 ? Pte32.TABLE_ADDR_MASK : Pte64.addressMask(maxPhy, 12);
        preparedMode = mode;
        preparedMaxPhy = maxPhy;
        preparedNxe = nxe;
    }

    /** {@code memory.loadEntry(pa, bytes)}, through the frame remembered for {@code level}. */
    private long loadEntry(long pa, int bytes, int level) {
        long[] f = frame[level];
        if (framePfn[level] != pa >>> PhysicalMemory.PAGE_SHIFT || f == null) {
            return loadEntryAndRemember(pa, bytes, level);
        }
        return memory.loadEntry(f, pa, bytes);
    }

    private long loadEntryAndRemember(long pa, int bytes, int level) {
        long[] f = memory.frameIfBacked(pa);
        if (f == null) {
            return memory.loadEntry(pa, bytes);   // unbacked (reads as zero) or out of range (throws)
        }
        frame[level] = f;
        framePfn[level] = pa >>> PhysicalMemory.PAGE_SHIFT;
        return memory.loadEntry(f, pa, bytes);
    }

    /**
     * PAE: loads the four PDPTE registers from the 32-byte PDPT named by CR3 (SDM 4.4.1).
     * Returns false — the CR3 write takes #GP(0) — if a present PDPTE sets a reserved bit;
     * the registers are then left unchanged.
     */
    public boolean loadPdptes(CpuRegisters regs) {
        if (!regs.mode().isPae()) {
            throw new IllegalStateException("PDPTE registers exist only in PAE paging, not " + regs.mode());
        }
        long base = regs.topTableAddress();
        long rsvd = PaePdpte.reservedMask(regs.maxPhyAddr());
        long[] loaded = new long[PaePdpte.ENTRIES];
        for (int i = 0; i < PaePdpte.ENTRIES; i++) {
            long e = memory.loadLong(base + 8L * i);
            if (PteBits.present(e) && (e & rsvd) != 0) {
                return false;
            }
            loaded[i] = e;
        }
        for (int i = 0; i < PaePdpte.ENTRIES; i++) {
            regs.setPdpte(i, loaded[i]);
        }
        return true;
    }

    /**
     * Translates {@code va} for an access from CR3's root.
     *
     * @param user     the access is made at CPL 3
     * @param implicit an implicit supervisor-mode access (e.g. to the GDT), supervisor whatever
     *                 the CPL; never an instruction fetch
     * @return true when translated ({@code out.pa} valid); false on #PF or #GP ({@code out.exception})
     */
    public boolean translate(CpuRegisters regs, long va, AccessType access, boolean user, boolean implicit,
                             WalkResult out) {
        PagingMode mode = regs.mode();
        int top = mode.levels();
        long base = mode.isPae() ? 0 : regs.topTableAddress();
        return translateFrom(regs, va, access, user, implicit, top, base, 0, out);
    }

    /**
     * Translates {@code va} starting at {@code level} in the table at {@code tableBase}, with
     * {@code restrictions} already accumulated above it: the entry point used after a hit in a
     * paging-structure cache (SDM 4.10.3), which skips the levels above.
     */
    public boolean translateFrom(CpuRegisters regs, long va, AccessType access, boolean user, boolean implicit,
                                 int startLevel, long tableBase, int restrictions, WalkResult out) {
        out.reset(va);
        out.restarts = 0;
        PagingMode mode = regs.mode();
        if (!mode.isCanonical(va)) {
            out.exception = WalkResult.EXC_GP;
            return false;
        }
        while (true) {
            int r = walkOnce(regs, mode, va, access, user, implicit, startLevel, tableBase, restrictions, out);
            if (r != RESTART) {
                return r == DONE;
            }
            out.restarts++;
        }
    }

    private static final int DONE = 0;
    private static final int FAULT = 1;
    private static final int RESTART = 2;

    private int walkOnce(CpuRegisters regs, PagingMode mode, long va, AccessType access, boolean user,
                         boolean implicit, int startLevel, long tableBase, int restrictions, WalkResult out) {
        final int bytes = mode.entryBytes();
        final int maxPhy = regs.maxPhyAddr();
        final boolean nxe = regs.nxe();
        prepare(mode, maxPhy, nxe);
        int level = startLevel;
        long base = tableBase;
        int restr = restrictions;
        out.memoryRefs = 0;
        long e;
        while (true) {
            out.restrictionsAbove[level] = restr;
            if (mode.isPae() && level == 3) {
                base = paeDirectory(regs, mode, va, maxPhy, out);
                if (base < 0) {
                    return fault(regs, access, user, implicit, 0, level, out);
                }
                level--;
                continue;
            }
            long entryAddress = base + (long) mode.index(va, level) * bytes;
            out.tableAddress[level] = base;
            out.entryAddress[level] = entryAddress;
            e = loadEntry(entryAddress, bytes, level);
            out.memoryRefs++;
            entryValue[level] = e;
            if (!PteBits.present(e)) {
                return fault(regs, access, user, implicit, 0, level, out);
            }
            boolean large = level > 1 && PteBits.large(e) && mode.largePageAllowed(level)
                    && (mode != PagingMode.X86_32 || regs.pse());
            if ((e & (large ? largeReserved[level] : tableReserved[level])) != 0) {
                return fault(regs, access, user, implicit, PageFaultError.P | PageFaultError.RSVD, level, out);
            }
            restr |= rightsOf(e, nxe);
            if (level == 1 || large) {
                return leaf(regs, mode, va, access, user, implicit, level, large, entryAddress, e, restr, startLevel, out);
            }
            base = e & nextTableMask;
            level--;
        }
    }

    /**
     * PAE level 3: the PDPTE comes from the registers loaded at CR3 time; its reserved bits were
     * checked then, and it carries no R/W, U/S, XD or A (SDM 4.4.1). Returns the page directory's
     * address, or -1 if the PDPTE is not present.
     */
    private long paeDirectory(CpuRegisters regs, PagingMode mode, long va, int maxPhy, WalkResult out) {
        long e = regs.pdpte(mode.index(va, 3));
        out.tableAddress[3] = regs.topTableAddress();
        out.entryAddress[3] = -1;
        entryValue[3] = e;
        return PteBits.present(e) ? PaePdpte.address(e, maxPhy) : -1;
    }

    private int leaf(CpuRegisters regs, PagingMode mode, long va, AccessType access, boolean user, boolean implicit,
                     int level, boolean large, long entryAddress, long e, int restr, int startLevel, WalkResult out) {
        int pkey = mode.isLongMode() ? Pte64.pkey(e) : 0;
        int denied = checkAccess(regs, access, user, implicit, restr, pkey);
        if (denied != 0) {
            return fault(regs, access, user, implicit, denied, level, out);
        }
        // Translation is valid and permitted: set A on every entry used, top down, then D.
        for (int l = startLevel; l > level; l--) {
            if (mode.isPae() && l == 3) {
                continue;
            }
            long v = entryValue[l];
            if ((v & PteBits.A) == 0
                    && !memory.compareAndSetEntry(out.entryAddress[l], mode.entryBytes(), v, v | PteBits.A)) {
                return RESTART;
            }
        }
        long want = PteBits.A | (access == AccessType.WRITE ? PteBits.D : 0);
        long updated = e | want;
        if ((e & want) != want && !memory.compareAndSetEntry(entryAddress, mode.entryBytes(), e, updated)) {
            return RESTART;
        }
        int shift = mode.shift(level);
        out.pageShift = shift;
        out.leafLevel = level;
        out.faultLevel = level;
        out.leafEntryAddress = entryAddress;
        out.leafEntry = updated;
        out.restrictions = restr;
        out.pkey = pkey;
        out.global = PteBits.global(e);
        long frame = leafAddress(mode, e, level, large, regs.maxPhyAddr());
        out.pa = frame | (va & ((1L << shift) - 1));
        return DONE;
    }

    /**
     * The access-rights decision of SDM 4.6 for a valid translation with combined rights
     * {@code restr}. Returns 0 if allowed, else the error-code bits beyond W/R, U/S and I/D:
     * {@code P} for a rights violation, {@code P|PK} for a protection-key violation.
     */
    static int checkAccess(CpuRegisters regs, AccessType access, boolean user, boolean implicit, int restr, int pkey) {
        boolean userAddress = (restr & WalkResult.NOT_USER) == 0;
        boolean writable = (restr & WalkResult.NOT_WRITABLE) == 0;
        boolean xd = (restr & WalkResult.EXECUTE_DISABLE) != 0;
        boolean userAccess = user && !implicit;
        boolean write = access == AccessType.WRITE;
        boolean fetch = access == AccessType.FETCH;
        // Protection keys govern data accesses to user-mode addresses (4.6.2). SDM 4.7 defines the
        // error code's PK flag by the PKRU condition alone (data access, user-mode address with key i,
        // ADi=1 or WDi=1 for a write with CR0.WP=1 or a user-mode access), so it is reported even
        // when the access also violates R/W, U/S or SMAP.
        int pk = 0;
        if (!fetch && userAddress && regs.pke()) {
            int pkru = regs.pkru();
            boolean accessDisable = ((pkru >>> (2 * pkey)) & 1) != 0;
            boolean writeDisable = ((pkru >>> (2 * pkey + 1)) & 1) != 0;
            if (accessDisable || (write && writeDisable && (userAccess || regs.wp()))) {
                pk = PageFaultError.PK;
            }
        }
        if (userAccess) {
            if (!userAddress || (write && !writable) || (fetch && xd)) {
                return PageFaultError.P | pk;
            }
        } else if (fetch) {
            if (xd || (userAddress && regs.smep())) {
                return PageFaultError.P;
            }
        } else {
            // SMAP: supervisor data accesses to user-mode addresses only when explicit and EFLAGS.AC=1.
            if (userAddress && regs.smap() && (implicit || !regs.ac())) {
                return PageFaultError.P | pk;
            }
            if (write && !writable && regs.wp()) {
                return PageFaultError.P | pk;
            }
        }
        return pk == 0 ? 0 : PageFaultError.P | pk;
    }

    private int fault(CpuRegisters regs, AccessType access, boolean user, boolean implicit, int bits, int level,
                      WalkResult out) {
        int code = bits;
        if (access == AccessType.WRITE) {
            code |= PageFaultError.WR;
        }
        if (user && !implicit) {
            code |= PageFaultError.US;
        }
        if (access == AccessType.FETCH && (regs.smep() || regs.nxe())) {
            code |= PageFaultError.ID;   // nxe() is false outside PAE/4-level paging
        }
        out.exception = WalkResult.EXC_PF;
        out.errorCode = code;
        out.faultLevel = level;
        return FAULT;
    }

    /** The restrictions a single entry contributes. */
    private static int rightsOf(long e, boolean nxe) {
        // R/W (bit 1) clear -> NOT_WRITABLE (1); U/S (bit 2) clear -> NOT_USER (2); XD (bit 63) -> EXECUTE_DISABLE (4).
        int r = (int) (~e >>> 1) & (WalkResult.NOT_WRITABLE | WalkResult.NOT_USER);
        return nxe ? r | ((int) (e >>> 61) & WalkResult.EXECUTE_DISABLE) : r;
    }

    /** Reserved bits of a present entry at {@code level} in {@code mode}. */
    public static long reservedMask(PagingMode mode, int level, boolean large, int maxPhyAddr, boolean nxe) {
        return switch (mode) {
            case X86_32 -> large ? Pte32.largeReservedMask(maxPhyAddr) : Pte32.tableReservedMask();
            case X86_32_PAE -> level == 3 ? PaePdpte.reservedMask(maxPhyAddr)
                    : Pte64.reservedMask(true, level, large, maxPhyAddr, nxe);
            default -> Pte64.reservedMask(false, level, large, maxPhyAddr, nxe);
        };
    }

    /** Physical base of the page mapped by leaf {@code e} at {@code level}. */
    public static long leafAddress(PagingMode mode, long e, int level, boolean large, int maxPhyAddr) {
        if (mode == PagingMode.X86_32) {
            return large ? Pte32.largeAddress(e) : Pte32.address(e);
        }
        return Pte64.address(e, maxPhyAddr, mode.shift(level));
    }
}

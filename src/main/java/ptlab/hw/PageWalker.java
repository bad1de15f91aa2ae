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

    // How the hot path is kept fast (see README "Simulator speed" for the measurements):
    //  - translateFrom() and leaf() stay under HotSpot's FreqInlineSize (325 bytecodes), so
    //    that with default JVM flags they are inlined into the caller and the access type,
    //    user and implicit flags fold to constants; walkLevels64() holds the walk, is compiled
    //    on its own first, and is then one call per walk (its machine code is above
    //    InlineSmallCode; forcing it inline measured within the noise). Everything rare
    //    lives out of line: faults, the PAE PDPTE step, A/D compare-and-swap and restart,
    //    protection keys, the PSE-36 address of a 4 MiB page, re-preparing the masks.
    //  - The common leaf is finished inside walkLevels64() (leaf64): the caller passes the
    //    access's row of the rights table and the A/D bits it needs, both constants folded
    //    there, and the walk writes the result while va, the leaf and the rights are still in
    //    its registers. When the caller finished every leaf, C2 saved about a dozen values to
    //    the stack around the call and reloaded them for leaf(); see TRANSLATED.
    //  - Two walks, walkLevels64() for 8-byte entries (PAE, 4/5-level) and walkLevels32(), each
    //    written out level by level: the index width and entry size are constants, so an
    //    entry's offset is one shift and mask and its load needs no extraction (one loop for
    //    both cost ~20% of a 4-level walk; unrolling the 8-byte one made its levels' shifts and
    //    indices constants too).
    //    Every other per-mode / per-level quantity (reserved masks, "may this level map a
    //    page") is precomputed by prepare(), checked with one compare per walk (pagingKey).
    //    Every per-level value is a field of its own (entry1..5, pfn1..5, tableMask1..5, ...):
    //    with the level a constant, each is one access off `this`, no array and no bounds check.
    //  - Path: the walk stores only the entry it read at each level; the table base, entry
    //    address and rights above each level are derived from those entries when a PSC fill
    //    (Mmu) or an A/D update asks (walkedTable, restrictionsAbove), not written on every
    //    walk (writing them cost ~20% of a 4-level walk).
    //  - Memory: the frame last read at each level is remembered, the hook is tested once per
    //    walk, and an entry's offset comes from va alone (table bases are 4 KiB aligned), so
    //    each level is one acquire load whose address does not wait for the level above. Pte
    //    tables are also remembered by the index of the pmd entry naming them (pte64), so a walk
    //    through another pte table than the last one (a random workload's) still finds its table
    //    by va alone.
    //  - A/D: the AND of every entry read tells in one test whether any lacks A; only then
    //    (or for a write to a clean leaf) does the walk take the compare-and-swap path.
    //  - Rights: R/W and U/S are AND-ed and XD OR-ed over the raw entries (SDM 4.6.1) and
    //    turned into restrictions once at the leaf; CpuRegisters keeps the SDM 4.6 decision as
    //    a 64-bit table (rightsFastPath()): a walk tests one bit, unless protection keys are on.
    //  - WalkResult: a success writes every scalar field once, so no reset is needed; a fault resets.

    private final PhysicalMemory memory;

    // The walk's values by level (1 = pte .. 5 = pml5e), one field each. The walks (walkLevels64/32)
    // name every level by a constant, so each is one load or store at a fixed offset from `this`;
    // code that has a level in a variable goes through the small switches below (entryValue,
    // remember, ...). They were one long[] indexed level * 7 + slot, and the remembered frames a
    // long[6][]: C2 does not know an instance array's length, so walkLevels64's path checked
    // bounds 15 times (the length spilled to the stack and reloaded for each), now 6 times (the
    // entry's index in its table, the pte-table slots): scripts/jit-disasm.sh. Measured with the
    // leaf finished in the walk (leaf64) in README "Simulator speed"; alone, within the noise.

    /** The entry read at each level on the current attempt. */
    private long entry1, entry2, entry3, entry4, entry5;

    // The frame last read at each level and its pfn (-1: none): a frame's backing array never
    // changes once created (see PhysicalMemory#frameIfBacked), so a repeated walk reads each
    // entry with one array load instead of a directory lookup.
    private long pfn1 = -1, pfn2 = -1, pfn3 = -1, pfn4 = -1, pfn5 = -1;
    private long[] frame1, frame2, frame3, frame4, frame5;

    // Per configuration (prepare()). tableMaskN: reserved bits of a present entry at level N
    // pointing to a table, plus P: the entry is usable iff (e & mask) == P (P is never reserved).
    // pageMaskN: the same for an entry mapping a page (PS=1). largePsN: PS (bit 7) if an entry at
    // level N may map a page, else 0. Only levels 2 and 3 can map a page (SDM 4.3, 4.4.2, 4.5.4).
    private long tableMask1, tableMask2, tableMask3, tableMask4, tableMask5;
    private long pageMask2, pageMask3;
    private long largePs2, largePs3;

    /** The entry read at {@code level} on the current attempt. */
    private long entryValue(int level) {
        return switch (level) {
            case 1 -> entry1;
            case 2 -> entry2;
            case 3 -> entry3;
            case 4 -> entry4;
            case 5 -> entry5;
            default -> throw new IllegalArgumentException("no level " + level);
        };
    }

    /** Records {@code e} as the entry read at {@code level} (a constant level folds to one store). */
    private void setEntryValue(int level, long e) {
        switch (level) {
            case 1 -> entry1 = e;
            case 2 -> entry2 = e;
            case 3 -> entry3 = e;
            case 4 -> entry4 = e;
            case 5 -> entry5 = e;
            default -> throw new IllegalArgumentException("no level " + level);
        }
    }

    /** The pfn of the frame remembered for {@code level}, -1 if none. */
    private long rememberedPfn(int level) {
        return switch (level) {
            case 1 -> pfn1;
            case 2 -> pfn2;
            case 3 -> pfn3;
            case 4 -> pfn4;
            case 5 -> pfn5;
            default -> throw new IllegalArgumentException("no level " + level);
        };
    }

    /** The frame remembered for {@code level} (valid while {@link #rememberedPfn} is not -1). */
    private long[] rememberedFrame(int level) {
        return switch (level) {
            case 1 -> frame1;
            case 2 -> frame2;
            case 3 -> frame3;
            case 4 -> frame4;
            case 5 -> frame5;
            default -> throw new IllegalArgumentException("no level " + level);
        };
    }

    /** Remembers frame {@code pfn}, backed by {@code f}, as the table read at {@code level}. */
    private void remember(int level, long pfn, long[] f) {
        switch (level) {
            case 1 -> { frame1 = f; pfn1 = pfn; }
            case 2 -> { frame2 = f; pfn2 = pfn; }
            case 3 -> { frame3 = f; pfn3 = pfn; }
            case 4 -> { frame4 = f; pfn4 = pfn; }
            case 5 -> { frame5 = f; pfn5 = pfn; }
            default -> throw new IllegalArgumentException("no level " + level);
        }
    }

    // Per-configuration constants of the walk, computed by prepare() when the mode, MAXPHYADDR,
    // EFER.NXE or CR4.PSE differs from the previous walk's.
    /** {@link CpuRegisters#pagingKey()} the constants below were computed for; 0: none yet. */
    private int preparedKey;
    private int preparedMaxPhy;
    private int indexBits;          // 9, or 10 for 32-bit paging: a level's shift is 12 + indexBits * (level - 1)
    private int indexMask;          // 511, or 1023 for 32-bit paging
    private long nextTableMask;     // the address bits of a table (or a 4 KiB page) in an entry
    private int entryBytes;
    private int entryShift;         // log2(entryBytes)
    private long entryMask;         // value bits of an entry: -1, or 0xFFFF_FFFF for 32-bit paging
    private int paeLevel;           // 3 in PAE paging (PDPTE registers), else 0 (no such level)
    private boolean pse36;          // 32-bit paging: a 4 MiB page's address has bits above 31
    private boolean hasPkeys;       // 4/5-level paging: bits 62:59 of a leaf are its protection key
    private int xdRight;            // EXECUTE_DISABLE with NXE (bit 63 = XD), else 0 (bit 63 reserved)
    private int canonicalShift;     // va >> canonicalShift is 0 (or canonicalHigh) for a canonical va
    private long canonicalHigh;     // -1 in 4/5-level paging (upper half), 0 in 32-bit modes

    public PageWalker(PhysicalMemory memory) {
        this.memory = memory;
    }

    public PhysicalMemory memory() {
        return memory;
    }

    private void prepare(CpuRegisters regs) {
        PagingMode mode = regs.mode();
        int maxPhy = regs.maxPhyAddr();
        boolean nxe = regs.nxe();
        boolean pse = regs.pse();
        tableMask1 = usableMask(mode, 1, false, maxPhy, nxe);
        tableMask2 = usableMask(mode, 2, false, maxPhy, nxe);
        tableMask3 = usableMask(mode, 3, false, maxPhy, nxe);
        tableMask4 = usableMask(mode, 4, false, maxPhy, nxe);
        tableMask5 = usableMask(mode, 5, false, maxPhy, nxe);
        pageMask2 = usableMask(mode, 2, true, maxPhy, nxe);
        pageMask3 = usableMask(mode, 3, true, maxPhy, nxe);
        largePs2 = mode.largePageAllowed(2) && (mode != PagingMode.X86_32 || pse) ? PteBits.PS : 0;
        largePs3 = mode.largePageAllowed(3) ? PteBits.PS : 0;
        indexBits = Integer.numberOfTrailingZeros(mode.entries(1));
        nextTableMask = mode == PagingMode.X86_32 ? Pte32.TABLE_ADDR_MASK : Pte64.addressMask(maxPhy, 12);
        indexMask = mode.entries(1) - 1;
        entryBytes = mode.entryBytes();
        entryShift = Integer.numberOfTrailingZeros(entryBytes);
        entryMask = entryBytes == 8 ? -1L : 0xFFFF_FFFFL;
        paeLevel = mode.isPae() ? 3 : 0;
        pse36 = mode == PagingMode.X86_32;
        hasPkeys = mode.isLongMode();
        xdRight = nxe ? WalkResult.EXECUTE_DISABLE : 0;
        canonicalShift = mode.isLongMode() ? mode.vaBits() - 1 : 32;
        canonicalHigh = mode.isLongMode() ? -1 : 0;
        preparedMaxPhy = maxPhy;
        preparedKey = regs.pagingKey();
    }

    /**
     * P plus the reserved bits of a present entry at {@code level} pointing to a table or (if
     * {@code large}) mapping a page; 0 for a level {@code mode} does not have (no entry is usable).
     */
    private static long usableMask(PagingMode mode, int level, boolean large, int maxPhy, boolean nxe) {
        return level <= mode.levels() ? PteBits.P | reservedMask(mode, level, large, maxPhy, nxe) : 0;
    }

    /**
     * {@code memory.loadEntry(pa, bytes)} the slow way: through the access hook if one is
     * installed, else through the directory, remembering the frame for {@code level} so that
     * the next walk reads it in walkLevels64/32() with one array load.
     */
    private long loadEntrySlow(long pa, int level) {
        long[] f = memory.hasAccessHook() ? null : memory.frameIfBacked(pa);
        if (f == null) {
            long e = memory.loadEntry(pa, entryBytes);   // hooked, unbacked (reads as zero) or out of range (throws)
            if (gens != null) {
                checkGeneration(pa, level, e);
            }
            return e;
        }
        // equivalent mutants (PIT: >>> to <<, or the call removed): a pfn no table has, or nothing remembered, only
        // sends the next walk back to this slow path: same entry
        remember(level, pa >>> PhysicalMemory.PAGE_SHIFT, f);
        return PhysicalMemory.loadEntryUnhooked(f, (int) pa & (PhysicalMemory.PAGE_SIZE - 1), entryMask);
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
        long base = mode.isPae() ? 0 : regs.topTableAddress();
        return translateFrom(regs, va, access, user, implicit, mode.levels(), base, 0, out);
    }

    /**
     * Translates {@code va} starting at {@code level} in the table at {@code tableBase}, with
     * {@code restrictions} already accumulated above it: the entry point used after a hit in a
     * paging-structure cache (SDM 4.10.3), which skips the levels above.
     */
    public boolean translateFrom(CpuRegisters regs, long va, AccessType access, boolean user, boolean implicit,
                                 int startLevel, long tableBase, int restrictions, WalkResult out) {
        if (regs.pagingKey() != preparedKey) {
            prepare(regs);
        }
        if ((tableBase & (PhysicalMemory.PAGE_SIZE - 1)) != 0) {   // every table is 4 KiB aligned (walkLevels relies on it)
            throw new IllegalArgumentException(String.format("table base 0x%x is not 4 KiB aligned", tableBase));
        }
        long top = va >> canonicalShift;   // PagingMode.isCanonical(va), from the prepared constants
        if (top != 0 && top != canonicalHigh) {
            return nonCanonical(va, out);   // equivalent mutant (PIT: return false): nonCanonical() always returns false
        }
        long denied = deniedRow(regs, access, user, implicit);
        long want = access == AccessType.WRITE ? PteBits.A | PteBits.D : PteBits.A;
        int restarts = 0;
        while (true) {
            int level = startLevel == paeLevel ? walkFromPdpte(regs, va, denied, want, out)
                    : entryBytes == 8 ? walkLevels64(va, startLevel, tableBase, restrictions, denied, want, out)
                    : walkLevels32(va, startLevel, tableBase, restrictions);
            if (level == TRANSLATED) {
                out.restarts = restarts;
                return true;
            }
            // equivalent mutant (PIT: < to <=): the walk returns a level 1..5 or -1..-5, never 0
            int r = level < 0 ? fault(regs, va, access, user, implicit, faultBits, startLevel, -level, out)
                    : leaf(regs, va, access, user, implicit, startLevel, level, out);
            if (r != RESTART) {
                out.restarts = restarts;
                return r == DONE;
            }
            restarts++;
        }
    }

    private static boolean nonCanonical(long va, WalkResult out) {
        out.reset(va);
        out.restarts = 0;
        out.exception = WalkResult.EXC_GP;
        return false;
    }

    /** walkLevels64(): translated, the result written (levels are 1..5, faults -1..-5). */
    private static final int TRANSLATED = 0;
    private static final int DONE = 0;
    private static final int FAULT = 1;
    private static final int RESTART = 2;

    // What walkLevels64/32() found, for leaf() (per-walk state in fields rather than a result object:
    // nothing is allocated and the loop stays small).
    private long leafEntry;
    private long leafEntryAddress;
    private int leafRestrictions;
    /** AND of every entry read: its A bit is 0 if some entry still has A=0. */
    private long allEntries;
    /** The error-code bits of the fault walkLevels64/32() stopped at (0 for not present, P|RSVD). */
    private int faultBits;
    /** Where the last walkLevels64/32() started: level, table base and rights from the levels above. */
    private int pathLevel;
    private long pathTable;
    private int pathRestrictions;

    /**
     * One attempt, down to the leaf, in PAE, 4-level or 5-level paging: tables of 512 8-byte
     * entries, indexed by 9 bits of va per level (SDM 4.4.2, 4.5.4). Returns {@link #TRANSLATED}
     * when the walk finished the translation itself ({@link #leaf64}: {@code denied} is the access's
     * row of the rights table, {@code want} the A/D bits it needs, {@code out} gets the result),
     * the leaf's level when the caller's {@link #leaf} must decide, or -level if the entry at
     * {@code level} is not present or sets a reserved bit ({@link #faultBits}).
     * {@link #walkLevels32} is the same walk for 32-bit paging, finished by the caller.
     *
     * <p>Loads, masks and tests, and the common leaf; everything rare is out of line. The levels are
     * written out one by one (a switch entered at the start level, falling through), as
     * {@code bench/baseline/walk.c} unrolls its walk per paging mode: every shift, array index
     * and "may this level map a page" is then a constant, and HotSpot checks each array's
     * bounds once instead of at every level (issue 15: the loop cost ~35 instructions a level).
     */
    private int walkLevels64(long va, int startLevel, long tableBase, int restrictions, long denied, long want,
                             WalkResult out) {
        // Everything the walk uses is read into locals first: the acquire load of each entry
        // orders every later memory read after it, so a field read after it would be read
        // again at every level. The hook is read once: it is installed between walks.
        final boolean hooked = memory.hasAccessHook();
        final long nextTableMask = this.nextTableMask;
        startPath(startLevel, tableBase, restrictions);
        long base = tableBase;
        // SDM 4.6.1: writable iff every R/W=1, user iff every U/S=1 (AND); XD if any XD=1 (OR).
        // `all` also tells whether some entry still has A=0.
        long all = -1, any = 0, e;
        long ps;
        switch (startLevel) {
            case 5:   // PML5E: PS is reserved (its TABLE_MASK has it), never a page
                e = entry64(va, 5, base, hooked);
                if ((e & tableMask5) != PteBits.P) {
                    return notUsable(e, 5);
                }
                all &= e;
                any |= e;
                base = e & nextTableMask;
                // fall through
            case 4:   // PML4E: as PML5E
                e = entry64(va, 4, base, hooked);
                if ((e & tableMask4) != PteBits.P) {
                    return notUsable(e, 4);
                }
                all &= e;
                any |= e;
                base = e & nextTableMask;
                // fall through
            case 3:   // PDPTE: a 1 GiB page if PS=1
                e = entry64(va, 3, base, hooked);
                ps = e & largePs3;   // PS=1 where this level may map a page
                if ((e & (ps == 0 ? tableMask3 : pageMask3)) != PteBits.P) {
                    return notUsable(e, 3);
                }
                all &= e;
                any |= e;
                if (ps != 0) {
                    return leaf64(va, 3, startLevel, base + entryOffset64(va, 3), restrictions | rightsOf(all, any), all, e,
                            denied, want, out);
                }
                base = e & nextTableMask;
                // fall through
            case 2:   // PDE: a 2 MiB page if PS=1
                e = entry64(va, 2, base, hooked);
                ps = e & largePs2;
                if ((e & (ps == 0 ? tableMask2 : pageMask2)) != PteBits.P) {
                    return notUsable(e, 2);
                }
                all &= e;
                any |= e;
                if (ps != 0) {
                    return leaf64(va, 2, startLevel, base + entryOffset64(va, 2), restrictions | rightsOf(all, any), all, e,
                            denied, want, out);
                }
                base = e & nextTableMask;
                // fall through
            case 1:   // PTE: always the leaf (bit 7 is PAT, not PS)
                e = pte64(va, base, hooked);
                if ((e & tableMask1) != PteBits.P) {
                    return notUsable(e, 1);
                }
                all &= e;
                any |= e;
                return leaf64(va, 1, startLevel, base + entryOffset64(va, 1), restrictions | rightsOf(all, any), all, e,
                        denied, want, out);
            default:
                throw new IllegalArgumentException("no level " + startLevel + " in 8-byte-entry paging");
        }
    }

    /**
     * Byte offset of va's entry at {@code level} in its table (8-byte entries): table bases are
     * 4 KiB aligned, so it comes from va alone, va[12 + 9 * (level - 1) + 8 : 12 + 9 * (level - 1)]
     * times 8.
     */
    private static int entryOffset64(long va, int level) {
        return (int) (va >>> (9 * level)) & 0xFF8;
    }

    /**
     * The entry for va at {@code level} of the table at {@code base}, remembered in
     * {@link #entryValue} (inlined with a constant level). Fast path: no hook, and the frame
     * remembered for this level is the table's (its pfn is -1 while nothing is remembered):
     * one acquire load, no checks. Its address does not depend on the entry read at the level
     * above, only the (predicted) frame test does, so the CPU can load every level at once.
     * Another table than last time at this level (every walk at the pte level of a random
     * workload) is a call of its own, {@link #otherTable}: with its directory lookup and
     * reference store written here, every walk ran slower (issue 15: ptlab bench walk, 4 rounds
     * interleaved, load 14-17, best round: walk4 18.2 -> 15.6 ns, walk5 24.1 -> 19.9).
     */
    private long entry64(long va, int level, long base, boolean hooked) {
        int offset = entryOffset64(va, level);
        long pfn = base >>> PhysicalMemory.PAGE_SHIFT;
        long e = !hooked && rememberedPfn(level) == pfn
                ? PhysicalMemory.loadEntryUnhooked(rememberedFrame(level), offset, -1L)
                : otherTable(pfn, offset, level, hooked);
        setEntryValue(level, e);
        return e;
    }

    // The pte tables (level 1) this walker has read, by the index of the pmd entry (level 2) that
    // points to them: ptePfn[i] is the table's pfn (-1: none), pteTable[i] its array. A walk
    // finds its pte table here by va alone, so the pte's load does not wait for the pmd entry
    // (only the check of the pfn does, a predicted branch), and a walk through another pte table
    // than the last (nearly every walk of a random workload) needs no directory lookup and no
    // call. A frame's array never changes once made, so an entry stays valid; a pmd index shared
    // by tables of different address ranges replaces one by the other. Made once
    // PTE_CACHE_AFTER walks have read another pte table than the last: a short run (an explore
    // schedule) never allocates its 6 KiB. (Issue 15, scripts/walk-ab.sh --rounds 4 32214a7 0d1a92f:
    // random_1g 26.72 -> 21.53 ns, C 13.12 in the same rounds; the others unchanged.)
    private long[] ptePfn;
    private long[][] pteTable;
    private int otherPteTables;
    private static final int PTE_CACHE_AFTER = 64;
    private static final int PMD_INDEX_SHIFT = 21;   // va[29:21] indexes the pmd (PAE, 4- and 5-level paging)

    /**
     * {@link #entry64} for the pte level: the table remembered for va's pmd index, else the one
     * remembered for the level, else {@link #otherPteTable}.
     */
    private long pte64(long va, long base, boolean hooked) {
        int offset = entryOffset64(va, 1);
        long pfn = base >>> PhysicalMemory.PAGE_SHIFT;
        // equivalent mutant (PIT: >>> to <<): every va then shares slot 0, which the pfn check keeps right, only slower
        int pmdIndex = (int) (va >>> PMD_INDEX_SHIFT) & 511;
        long[] pfns = ptePfn;
        long e;
        if (!hooked && pfns != null && pfns[pmdIndex] == pfn) {
            e = PhysicalMemory.loadEntryUnhooked(pteTable[pmdIndex], offset, -1L);
        } else if (!hooked && pfn1 == pfn) {
            e = PhysicalMemory.loadEntryUnhooked(frame1, offset, -1L);
        } else {
            e = otherPteTable(pfn, offset, hooked, pmdIndex);
        }
        entry1 = e;
        return e;
    }

    /** {@link #otherTable} for the pte level, remembering the table for {@code pmdIndex} too. */
    private long otherPteTable(long pfn, int offset, boolean hooked, int pmdIndex) {
        long e = otherTable(pfn, offset, 1, hooked);
        // equivalent mutant (PIT: !hooked negated): a hooked walk remembering its table here is harmless (the hook
        // is tested before the slots are used), and unhooked walks not remembering only makes them slower
        if (!hooked && pfn1 == pfn) {   // a backed frame, now remembered for the level
            // equivalent mutants (PIT: the threshold's test, count or comparison changed): when, or whether, the
            // slots are made changes the speed of the walks, not what they read
            if (ptePfn == null && ++otherPteTables >= PTE_CACHE_AFTER) {
                ptePfn = new long[512];
                java.util.Arrays.fill(ptePfn, -1);
                pteTable = new long[512][];
            }
            if (ptePfn != null) {
                pteTable[pmdIndex] = frame1;
                ptePfn[pmdIndex] = pfn;
            }
        }
        return e;
    }

    /**
     * The entry at {@code offset} of the table in frame {@code pfn}, which is not the frame
     * remembered for {@code level} (8-byte entries): the directory lookup, remembering the frame,
     * or the checked path ({@link #loadEntrySlow}) for an unbacked or out-of-range frame or with
     * a hook. A method of its own: it keeps walkLevels64 small.
     */
    private long otherTable(long pfn, int offset, int level, boolean hooked) {
        long[] f = hooked ? null : memory.frameOfPfn(pfn);
        if (f == null) {
            return loadEntrySlow((pfn << PhysicalMemory.PAGE_SHIFT) + offset, level);
        }
        remember(level, pfn, f);   // equivalent mutant (PIT: call removed): the next walk comes back here, same entry
        return PhysicalMemory.loadEntryUnhooked(f, offset, -1L);
    }

    /**
     * {@link #walkLevels64} for 32-bit paging: two levels of 1024 4-byte entries, indexed by
     * va[31:22] and va[21:12] (SDM 4.3); no XD.
     */
    private int walkLevels32(long va, int startLevel, long tableBase, int restrictions) {
        final boolean hooked = memory.hasAccessHook();
        startPath(startLevel, tableBase, restrictions);
        long base = tableBase;
        long all = -1, e;
        switch (startLevel) {
            case 2:   // PDE: a 4 MiB page if PS=1 and CR4.PSE=1
                e = entry32(va, 2, base, hooked);
                long ps = e & largePs2;
                if ((e & (ps == 0 ? tableMask2 : pageMask2)) != PteBits.P) {
                    return notUsable(e, 2);
                }
                all &= e;
                if (ps != 0) {
                    return foundLeaf(2, base + entryOffset32(va, 2), restrictions | rightsOf(all, 0), all, e);
                }
                base = e & Pte32.TABLE_ADDR_MASK;
                // fall through
            case 1:   // PTE
                e = entry32(va, 1, base, hooked);
                if ((e & tableMask1) != PteBits.P) {
                    return notUsable(e, 1);
                }
                all &= e;
                return foundLeaf(1, base + entryOffset32(va, 1), restrictions | rightsOf(all, 0), all, e);
            default:
                throw new IllegalArgumentException("no level " + startLevel + " in 32-bit paging");
        }
    }

    /** Byte offset of va's entry at {@code level} (4-byte entries): va[12 + 10 * (level - 1) + 9 : ...] times 4. */
    private static int entryOffset32(long va, int level) {
        return (int) (va >>> (10 * level)) & 0xFFC;
    }

    /** {@link #entry64} for 32-bit paging (inlined with a constant level). */
    private long entry32(long va, int level, long base, boolean hooked) {
        int offset = entryOffset32(va, level);
        // equivalent mutant (PIT: >>> to <<): the frame test never matches, every walk reads via loadEntrySlow()
        long e = !hooked && rememberedPfn(level) == base >>> PhysicalMemory.PAGE_SHIFT
                ? PhysicalMemory.loadEntryUnhooked(rememberedFrame(level), offset, 0xFFFF_FFFFL)
                : loadEntrySlow(base + offset, level);
        setEntryValue(level, e);
        return e;
    }

    /**
     * Remembers where this attempt starts: the path is recorded as the entries read
     * ({@link #entryValue}) from here, and the table and rights at each level follow from them
     * ({@link #walkedTable}, {@link #restrictionsAbove}), which only a PSC fill or an A/D update needs.
     */
    private void startPath(int startLevel, long tableBase, int restrictions) {
        pathLevel = startLevel;
        pathTable = tableBase;
        pathRestrictions = restrictions;
        if (gens != null) {   // read only by checkGeneration and walkedTableGeneration, both with generations
            pathGeneration[startLevel] = startGeneration;
        }
    }

    // ---- frame generations (a checker's, see FrameGenerations) ---------------------------------

    private FrameGenerations gens;
    /** Generation of the table at each level of the current walk, as the entry above saw it. */
    private final long[] pathGeneration = new long[6];
    /** Generation of the start table of the next walks (a PSC entry's), or UNKNOWN. */
    private long startGeneration = FrameGenerations.UNKNOWN;

    /** Installs the checker's frame generations (null: none). */
    public void setFrameGenerations(FrameGenerations g) {
        this.gens = g;
    }

    /**
     * The walks that follow start in a table a paging-structure-cache entry gave, which recorded
     * generation {@code g} (UNKNOWN when the walk starts at CR3's root).
     */
    void startFromGeneration(long g) {
        startGeneration = g;
    }

    /** The generation the last walk saw for the table it indexed at {@code level} (for a PSC fill). */
    long walkedTableGeneration(int level) {
        return gens != null && level <= pathLevel ? pathGeneration[level] : FrameGenerations.UNKNOWN;
    }

    /**
     * Invariant 2 across frame reuse: the table the walk reads at {@code level} must still be at
     * the generation the reference to it saw; and the entry just read gives the table of the
     * level below, whose generation is remembered now — the instant the reference is read.
     */
    private void checkGeneration(long pa, int level, long e) {
        long table = pa & ~(long) (PhysicalMemory.PAGE_SIZE - 1);
        long seen = pathGeneration[level];
        if (seen != FrameGenerations.UNKNOWN && gens.generation(table) != seen) {
            gens.staleTableRead(table, seen, pa, level, level == pathLevel && startGeneration != FrameGenerations.UNKNOWN);
        }
        if (level > 1) {   // equivalent mutant (PIT: >=): a level-1 entry maps a page; slot 0 is read by no walk
            long next = e & (entryBytes == 8 ? nextTableMask : Pte32.TABLE_ADDR_MASK);
            pathGeneration[level - 1] = gens.generation(next);
        }
    }

    /**
     * The end of a walk in PAE, 4- or 5-level paging at the leaf {@code e} at {@code level} (a
     * constant: inlined at each leaf of walkLevels64), with the rights {@code restr} and
     * {@code all} the AND of every entry read. The common case is finished here, in the walk's own
     * compiled code, where va, the leaf and the rights are still in registers: no protection keys,
     * the access allowed ({@code denied}: the row of {@link CpuRegisters#deniedRights()} for the
     * access, -1 with protection keys) and A (and a write's D, {@code want}) already set; the
     * result is written and the walk returns {@link #TRANSLATED}. Anything else goes back to the
     * caller's {@link #leaf} with the leaf remembered (foundLeaf).
     */
    private int leaf64(long va, int level, int startLevel, long entryAddress, int restr, long all, long e,
                       long denied, long want, WalkResult out) {
        // equivalent mutants (PIT: & to | in the first or last test): every leaf then goes to leaf(), same result
        if (((denied >>> restr) & PageFaultError.P) != 0 || (all & PteBits.A) == 0 || (e & want) != want) {
            return foundLeaf(level, entryAddress, restr, all, e);
        }
        int s = shift64(level);
        // The same result as leaf()'s, written out rather than through a shared helper: one more
        // inlining level made C2 give up inlining setTranslation at one of the walk's leaves
        // ("callee is too large", -XX:+PrintInlining).
        out.setTranslation(va, (e & nextTableMask & (-1L << s)) | (va & ((1L << s) - 1)), s, level, entryAddress, e,
                restr, hasPkeys ? Pte64.pkey(e) : 0, (e & PteBits.G) != 0, startLevel - level + 1);
        return TRANSLATED;
    }

    /** The page shift of a leaf at {@code level} with 8-byte entries (a constant level folds). */
    private static int shift64(int level) {
        return 12 + 9 * (level - 1);
    }

    /**
     * The row of {@link CpuRegisters#deniedRights()} for this access: bit r set if an access with
     * restrictions r is denied (SDM 4.6); -1 when protection keys are on (every leaf then goes to
     * {@link #accessDenied}'s full check).
     */
    private static long deniedRow(CpuRegisters regs, AccessType access, boolean user, boolean implicit) {
        long table = regs.rightsFastPath();
        // equivalent mutant (PIT: == negated): a row of ones or -1 >>> k (bits 0..7 set) sends every leaf to leaf()
        return table == -1 ? -1 : table >>> (8 * CpuRegisters.accessKind(access, user, implicit));
    }

    /** The walk ends at the leaf at {@code level}, whose entry is at {@code entryAddress}: remembers it for leaf(). */
    private int foundLeaf(int level, long entryAddress, int restrictions, long all, long e) {
        leafEntry = e;
        leafEntryAddress = entryAddress;
        leafRestrictions = restrictions;
        allEntries = all;
        return level;
    }

    /** Entry {@code e} at {@code level} is not present (#PF P=0) or sets a reserved bit (#PF P=1,RSVD=1). */
    private int notUsable(long e, int level) {
        faultBits = (e & PteBits.P) == 0 ? 0 : PageFaultError.P | PageFaultError.RSVD;
        return -level;
    }

    /** PAE: the walk from the PDPTE register (level 3) down; as walkLevels64(). */
    private int walkFromPdpte(CpuRegisters regs, long va, long denied, long want, WalkResult out) {
        long e = regs.pdpte((int) (va >>> 30) & (PaePdpte.ENTRIES - 1));
        entry3 = e;
        if (!PteBits.present(e)) {
            faultBits = 0;
            return -3;
        }
        // The PDPTE's reserved bits were checked at CR3 load; it has no R/W, U/S, XD or A (SDM 4.4.1).
        return walkLevels64(va, 2, PaePdpte.address(e, preparedMaxPhy), 0, denied, want, out);
    }

    /**
     * The restrictions of entries whose AND is {@code all} and OR is {@code any} (tiny: always
     * inlined): R/W (bit 1) clear -> NOT_WRITABLE (1); U/S (bit 2) clear -> NOT_USER (2);
     * XD (bit 63) -> EXECUTE_DISABLE (4).
     */
    private int rightsOf(long all, long any) {
        return ((int) (~all >>> 1) & (WalkResult.NOT_WRITABLE | WalkResult.NOT_USER)) | ((int) (any >>> 61) & xdRight);
    }

    // ---- the path of the last walk, for the paging-structure caches and the A/D update ----

    /**
     * The physical base of the table the last successful walk indexed at {@code level}, for a
     * level from the one it started reading memory at down to the leaf's.
     */
    public long walkedTable(int level) {
        checkPathLevel(level);
        return tableAt(level);
    }

    private long tableAt(int level) {
        return level == pathLevel ? pathTable : entryValue(level + 1) & nextTableMask;
    }

    /** The rights accumulated by the last successful walk from the levels above {@code level} (as {@link #walkedTable}). */
    public int restrictionsAbove(int level) {
        checkPathLevel(level);
        int restr = pathRestrictions;
        for (int l = pathLevel; l > level; l--) {
            restr |= rightsOf(entryValue(l), entryValue(l));
        }
        return restr;
    }

    private void checkPathLevel(int level) {
        if (level > pathLevel || level < 1) {
            throw new IllegalArgumentException("level " + level + " is not on the walked path (1.." + pathLevel + ")");
        }
    }

    /** The lowest linear-address bit indexing {@code level} = the page shift of a leaf there. */
    private int shift(int level) {
        return 12 + indexBits * (level - 1);
    }

    /** Physical address of the entry for {@code va} at {@code level} of the last walk's path. */
    private long walkedEntryAddress(long va, int level) {
        return tableAt(level) + (((va >>> shift(level)) & indexMask) << entryShift);
    }

    /** The leaf found by walkLevels64/32() at {@code level}: rights, then A/D, then the result. */
    private int leaf(CpuRegisters regs, long va, AccessType access, boolean user, boolean implicit, int startLevel,
                     int level, WalkResult out) {
        long e = leafEntry;
        int restr = leafRestrictions;
        int pkey = hasPkeys ? Pte64.pkey(e) : 0;
        int denied = accessDenied(regs, access, user, implicit, restr, pkey);
        if (denied != 0) {
            return fault(regs, va, access, user, implicit, denied, startLevel, level, out);
        }
        // Translation is valid and permitted: A must be set on every entry used, D on the leaf for a write.
        long want = access == AccessType.WRITE ? PteBits.A | PteBits.D : PteBits.A;
        // equivalent mutant (PIT: e & want to e | want): every walk then takes setAccessedDirty(), which writes only missing bits
        if ((allEntries & PteBits.A) == 0 || (e & want) != want) {
            if (!setAccessedDirty(va, level, e, want)) {
                return RESTART;
            }
            e |= want;
        }
        int s = shift(level);
        // a level-2 leaf is a 4 MiB page in 32-bit paging; else the address bits from bit s up
        long page = pse36 && level == 2 ? Pte32.largeAddress(e) : e & nextTableMask & (-1L << s);
        out.setTranslation(va, page | (va & ((1L << s) - 1)), s, level, leafEntryAddress, e, restr, pkey,
                (e & PteBits.G) != 0, memoryRefs(startLevel, level));
        return DONE;
    }

    /** Entries read from memory walking from {@code startLevel} down to {@code level}: PDPTE registers are not. */
    private int memoryRefs(int startLevel, int level) {
        int refs = startLevel - level + 1;
        return paeLevel != 0 && startLevel >= paeLevel && level <= paeLevel ? refs - 1 : refs;
    }

    /**
     * SDM 4.8: sets A in every entry used, top down, then A and (for a write) D in the leaf
     * {@code e}, each with a compare-and-swap against the value the walk read. Returns false
     * if an entry changed since: the walk restarts from the top, as the hardware's locked
     * update does.
     */
    private boolean setAccessedDirty(long va, int level, long e, long want) {
        for (int l = pathLevel; l > level; l--) {   // the PAE PDPTE registers are not on the path: no A
            long v = entryValue(l);
            if ((v & PteBits.A) == 0
                    && !memory.compareAndSetEntry(walkedEntryAddress(va, l), entryBytes, v, v | PteBits.A)) {
                return false;
            }
        }
        return (e & want) == want || memory.compareAndSetEntry(leafEntryAddress, entryBytes, e, e | want);
    }

    /**
     * The access-rights decision of SDM 4.6 for a valid translation with combined rights
     * {@code restr}: 0 if allowed, else the error-code bits beyond W/R, U/S and I/D
     * ({@code P} for a rights violation, {@code P|PK} for a protection-key violation).
     * Without protection keys this is one bit of {@link CpuRegisters#deniedRights()}.
     */
    static int accessDenied(CpuRegisters regs, AccessType access, boolean user, boolean implicit, int restr,
                            int pkey) {
        long table = regs.rightsFastPath();   // one load: -1 if protection keys are on
        if (table == -1) {
            return checkAccess(regs, access, user, implicit, restr, pkey);
        }
        long row = table >>> (8 * CpuRegisters.accessKind(access, user, implicit));
        return (int) (row >>> restr) & PageFaultError.P;
    }

    /**
     * The access-rights decision of SDM 4.6 for a valid translation with combined rights
     * {@code restr}, evaluated rule by rule. Returns 0 if allowed, else the error-code bits beyond
     * W/R, U/S and I/D: {@code P} for a rights violation, {@code P|PK} for a protection-key violation.
     */
    static int checkAccess(CpuRegisters regs, AccessType access, boolean user, boolean implicit, int restr, int pkey) {
        boolean userAddress = (restr & WalkResult.NOT_USER) == 0;
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
        return pk != 0 || rightsViolation(regs, access, user, implicit, restr) ? PageFaultError.P | pk : 0;
    }

    /** SDM 4.6 without protection keys: whether the access violates R/W, U/S, XD, SMEP or SMAP. */
    static boolean rightsViolation(CpuRegisters regs, AccessType access, boolean user, boolean implicit, int restr) {
        return rightsViolation(regs.wp(), regs.smep(), regs.smap(), regs.ac(), access, user, implicit, restr);
    }

    /** {@link #rightsViolation(CpuRegisters, AccessType, boolean, boolean, int)} for the given CR0.WP, CR4.SMEP, CR4.SMAP and EFLAGS.AC. */
    static boolean rightsViolation(boolean wp, boolean smep, boolean smap, boolean ac, AccessType access, boolean user,
                                   boolean implicit, int restr) {
        boolean userAddress = (restr & WalkResult.NOT_USER) == 0;
        boolean writable = (restr & WalkResult.NOT_WRITABLE) == 0;
        boolean xd = (restr & WalkResult.EXECUTE_DISABLE) != 0;
        boolean write = access == AccessType.WRITE;
        boolean fetch = access == AccessType.FETCH;
        if (user && !implicit) {
            return !userAddress || (write && !writable) || (fetch && xd);
        }
        if (fetch) {
            return xd || (userAddress && smep);
        }
        // SMAP: supervisor data accesses to user-mode addresses only when explicit and EFLAGS.AC=1.
        return (userAddress && smap && (implicit || !ac)) || (write && !writable && wp);
    }

    private int fault(CpuRegisters regs, long va, AccessType access, boolean user, boolean implicit, int bits,
                      int startLevel, int level, WalkResult out) {
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
        out.reset(va);
        out.memoryRefs = memoryRefs(startLevel, level);
        out.exception = WalkResult.EXC_PF;
        out.errorCode = code;
        out.faultLevel = level;
        return FAULT;
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

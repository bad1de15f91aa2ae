package ptlab.hw;

/**
 * The memory-management unit of one simulated CPU: its control registers, a {@link PageWalker},
 * a {@link Tlb} and the {@link PagingStructureCaches} (SDM vol. 3, 4.10).
 *
 * <pre>
 *   translate(va)
 *     TLB hit ──► rights from the entry (4.10.2.2) ──► denied: #PF, entry invalidated (4.10.4.1)
 *        │                                         └─► write to a clean entry: re-walk to set D (4.8)
 *        │                                         └─► else: pa = frame | offset, no memory access
 *     TLB miss ─► deepest paging-structure-cache hit ─► walk from there ─► fill TLB and PSCs
 * </pre>
 *
 * Nothing here watches memory: a PTE changed without INVLPG/INVPCID/CR3 write keeps being
 * used through the TLB, and a changed upper-level entry through the paging-structure caches,
 * which is what a kernel's TLB-flush protocol has to cope with. Counters are plain longs.
 * Not thread-safe: one instance per simulated CPU.
 */
public final class Mmu {

    private final CpuRegisters regs;
    private final PageWalker walker;
    private final Tlb tlb;
    private final PagingStructureCaches psc;
    /** leafShift[level] = page shift of a leaf at that level in this mode (index 0 unused). */
    private final int[] leafShift = new int[4];

    private long hits;
    private long misses;
    private long walks;
    private long dirtyRewalks;
    private long walkMemoryRefs;
    private long pscHits;

    public Mmu(PhysicalMemory memory, CpuRegisters regs, TlbConfig config) {
        this.regs = regs;
        this.walker = new PageWalker(memory);
        this.tlb = new Tlb(config, regs.mode().shift(2));
        this.psc = new PagingStructureCaches(regs.mode());
        for (int level = 1; level < leafShift.length; level++) {
            leafShift[level] = regs.mode().shift(level);
        }
    }

    public CpuRegisters registers() {
        return regs;
    }

    public Tlb tlb() {
        return tlb;
    }

    /**
     * Installs a checker's frame generations: walks and paging-structure-cache entries remember
     * the generation of the tables they reach, and a walk into a table freed since is reported
     * ({@link FrameGenerations}). Null removes them.
     */
    public void setFrameGenerations(FrameGenerations g) {
        if (g != generations) {
            psc.forgetGenerations();   // recorded against another checker's counts: not comparable
        }
        generations = g;
        walker.setFrameGenerations(g);
    }

    private FrameGenerations generations;

    public PageWalker walker() {
        return walker;
    }

    public PagingStructureCaches pagingStructureCaches() {
        return psc;
    }

    // ---- translation ----------------------------------------------------------------------

    /**
     * Translates {@code va} as the CPU would, using and filling the TLB.
     *
     * <p>On a TLB hit {@code out} gets pa, pageShift, leafLevel, restrictions, pkey and global as a
     * walk would set them; {@code leafEntry} and {@code leafEntryAddress} stay 0 and
     * {@code memoryRefs} is 0, since the TLB remembers neither the entry nor where it was.
     *
     * @return true when translated; false on #PF or #GP ({@code out.exception}, {@code out.errorCode})
     */
    public boolean translate(long va, AccessType access, boolean user, boolean implicit, WalkResult out) {
        // The #GP check for a non-canonical va can wait for a miss: such a va never hits, since
        // the TLB holds only addresses that a walk translated (canonical ones) and a tag keeps
        // every bit of the va above the page offset.
        long entry = tlb.lookupEntry(va, regs.pcid());
        if (entry < 0) {
            return miss(va, access, user, implicit, out);
        }
        hits++;
        int restr = Tlb.entryRestrictions(entry);
        int pkey = Tlb.entryPkey(entry);
        int denied = PageWalker.accessDenied(regs, access, user, implicit, restr, pkey);
        if (denied != 0) {
            // (faultFromTlb() always returns false: PIT's "return false" here is an equivalent mutant)
            return faultFromTlb(va, access, user, implicit, entry, denied, out);
        }
        if (access == AccessType.WRITE && !Tlb.entryDirty(entry)) {
            dirtyRewalks++;   // 4.8: the D flag is set in memory, so the entry is walked again
            return walk(va, access, user, implicit, regs.pcid(), out);
        }
        int level = Tlb.entryLeafLevel(entry);
        int shift = leafShift[level];
        out.setTlbHit(va, Tlb.entryFrame(entry) | (va & ((1L << shift) - 1)), shift, level, restr, pkey,
                Tlb.entryGlobal(entry));
        return true;
    }

    private boolean miss(long va, AccessType access, boolean user, boolean implicit, WalkResult out) {
        if (!regs.mode().isCanonical(va)) {
            // #GP, no TLB involved; always false (so "return false" is an equivalent mutant)
            return walker.translate(regs, va, access, user, implicit, out);
        }
        misses++;
        return walk(va, access, user, implicit, regs.pcid(), out);
    }

    /**
     * A TLB entry denies the access: #PF without a walk (4.10.2.2), and the page fault
     * invalidates the TLB and paging-structure-cache entries for {@code va} (4.10.4.1), so
     * a retry after the kernel fixed the PTE walks again (Linux's spurious-fault handling).
     */
    private boolean faultFromTlb(long va, AccessType access, boolean user, boolean implicit, long entry,
                                 int denied, WalkResult out) {
        out.reset(va);
        out.restarts = 0;
        out.exception = WalkResult.EXC_PF;
        out.errorCode = errorCode(access, user, implicit, denied);
        out.faultLevel = Tlb.entryLeafLevel(entry);
        invalidateForFault(va, regs.pcid());
        return false;
    }

    /** The page-fault error code of 4.7 for an access denied with {@code bits} (P, PK). */
    private int errorCode(AccessType access, boolean user, boolean implicit, int bits) {
        int code = bits;
        if (access == AccessType.WRITE) {
            code |= PageFaultError.WR;
        }
        if (user && !implicit) {
            code |= PageFaultError.US;
        }
        if (access == AccessType.FETCH && (regs.smep() || regs.nxe())) {
            code |= PageFaultError.ID;
        }
        return code;
    }

    /** TLB miss (or a write to a clean entry): walk from the deepest PSC hit, then fill. */
    private boolean walk(long va, AccessType access, boolean user, boolean implicit, int pcid, WalkResult out) {
        walks++;
        int cached = psc.deepestHit(va, pcid);
        boolean ok;
        if (cached != 0) {
            pscHits++;
            walker.startFromGeneration(psc.hitGeneration());
            ok = walker.translateFrom(regs, va, access, user, implicit, cached - 1, psc.hitTable(),
                    psc.hitRestrictions(), out);
            walker.startFromGeneration(FrameGenerations.UNKNOWN);
        } else {
            ok = walker.translate(regs, va, access, user, implicit, out);
        }
        walkMemoryRefs += out.memoryRefs;
        if (!ok) {
            invalidateForFault(va, pcid);
            return false;
        }
        fillCaches(va, pcid, cached == 0 ? regs.mode().levels() : cached - 1, out);
        return true;
    }

    /**
     * Fills the TLB with the translation and the PSCs with every non-leaf entry the walk read
     * from memory, levels {@code startLevel} down to just above the leaf.
     */
    private void fillCaches(long va, int pcid, int startLevel, WalkResult out) {
        for (int level = startLevel; level > out.leafLevel; level--) {
            // the entry at `level` points to the table at level-1; rights through `level` are
            // the rights above level-1
            psc.fill(va, pcid, level, walker.walkedTable(level - 1), walker.restrictionsAbove(level - 1),
                    walker.walkedTableGeneration(level - 1));
        }
        long frame = out.pa & ~((1L << out.pageShift) - 1);
        tlb.insert(va, pcid, out.pageShift, frame, out.restrictions, out.pkey, out.global && regs.pge(),
                out.dirty());
    }

    /** 4.10.4.1: a page fault invalidates the TLB and PSC entries for the faulting address and PCID. */
    private void invalidateForFault(long va, int pcid) {
        tlb.invalidatePage(va, pcid, false);
        psc.invalidateAddress(va, pcid);
    }

    // ---- control-register writes and invalidation instructions (SDM 4.10.4.1) --------------

    /**
     * MOV to CR3. PAE: loads the PDPTE registers first and returns false (#GP(0)) if a present
     * PDPTE has a reserved bit, leaving CR3 and the caches unchanged.
     * <ul>
     * <li>CR4.PCIDE=0: invalidates every non-global TLB entry and every PSC entry.</li>
     * <li>CR4.PCIDE=1, bit 63 ({@link CpuRegisters#CR3_NOFLUSH}) clear: invalidates the new
     *     PCID's non-global TLB entries and PSC entries.</li>
     * <li>CR4.PCIDE=1, bit 63 set: invalidates nothing.</li>
     * </ul>
     */
    public boolean writeCr3(long value) {
        long old = regs.cr3();
        regs.setCr3(value);
        if (regs.mode().isPae() && !walker.loadPdptes(regs)) {
            regs.setCr3(old);
            return false;
        }
        if (!regs.pcide()) {
            tlb.invalidateNonGlobal();
            psc.invalidateAll();
        } else if ((value & CpuRegisters.CR3_NOFLUSH) == 0) {
            tlb.invalidatePcid(regs.pcid());
            psc.invalidatePcid(regs.pcid());
        }
        return true;
    }

    /**
     * INVLPG: invalidates the TLB entries for the page containing {@code va} for the current
     * PCID, global ones included, and all PSC entries of the current PCID whatever their
     * address. A non-canonical {@code va} makes it a no-op.
     */
    public void invlpg(long va) {
        if (!regs.mode().isCanonical(va)) {
            return;
        }
        tlb.invalidatePage(va, regs.pcid(), true);
        psc.invalidatePcid(regs.pcid());
    }

    public static final int INVPCID_ADDRESS = 0;
    public static final int INVPCID_SINGLE_CONTEXT = 1;
    public static final int INVPCID_ALL_INCLUDING_GLOBAL = 2;
    public static final int INVPCID_ALL_EXCEPT_GLOBAL = 3;

    /**
     * INVPCID (SDM vol. 2, INVPCID): type 0 individual address (non-global entries for
     * {@code va} and {@code pcid}), 1 single context (non-global entries of {@code pcid}),
     * 2 all contexts including global, 3 all contexts except global. Each also invalidates
     * the PSC entries of the PCIDs concerned. Returns false (#GP(0)) for a type above 3, a PCID
     * above 4095, or a non-canonical address with type 0; nothing is invalidated then.
     */
    public boolean invpcid(int type, int pcid, long va) {
        if (pcid < 0 || pcid > 0xFFF) {
            return false;
        }
        switch (type) {
            case INVPCID_ADDRESS -> {
                if (!regs.mode().isCanonical(va)) {
                    return false;
                }
                tlb.invalidatePage(va, pcid, false);
                psc.invalidatePcid(pcid);
            }
            case INVPCID_SINGLE_CONTEXT -> {
                tlb.invalidatePcid(pcid);
                psc.invalidatePcid(pcid);
            }
            case INVPCID_ALL_INCLUDING_GLOBAL -> flushAll();
            case INVPCID_ALL_EXCEPT_GLOBAL -> {
                tlb.invalidateNonGlobal();
                psc.invalidateAll();
            }
            default -> {
                return false;
            }
        }
        return true;
    }

    /** MOV to CR4 changing PGE: invalidates every TLB entry, global ones included, and every PSC entry. */
    public void setPge(boolean pge) {
        if (pge != regs.pge()) {
            flushAll();
        }
        regs.setPge(pge);
    }

    /** Invalidates every TLB entry (global included) and every paging-structure-cache entry. */
    public void flushAll() {
        tlb.invalidateAll();
        psc.invalidateAll();
    }

    // ---- statistics -------------------------------------------------------------------------

    public long hits() {
        return hits;
    }

    public long misses() {
        return misses;
    }

    /** Walks done: one per miss plus one per write hit on a clean entry. */
    public long walks() {
        return walks;
    }

    /** Write hits on an entry cached with D=0 that had to walk again to set D. */
    public long dirtyRewalks() {
        return dirtyRewalks;
    }

    /** Walks that started below the top thanks to a paging-structure-cache hit. */
    public long pscHits() {
        return pscHits;
    }

    /** Paging-structure entries read from memory by all walks. */
    public long walkMemoryRefs() {
        return walkMemoryRefs;
    }

    public void resetStats() {
        hits = 0;
        misses = 0;
        walks = 0;
        dirtyRewalks = 0;
        walkMemoryRefs = 0;
        pscHits = 0;
    }
}

package ptlab.hw;

/**
 * The control state of one CPU that paging depends on (SDM vol. 3, 2.5 and 4.1): CR0.WP,
 * CR3, CR4.{PSE,PGE,PCIDE,SMEP,SMAP,PKE}, IA32_EFER.NXE, PKRU, EFLAGS.AC, and, for PAE,
 * the four PDPTE registers loaded from memory on a CR3 write.
 *
 * <p>This is plain register state. Writing CR3 here does not flush anything and does not load
 * PDPTEs; {@link Mmu} performs a CR3 write with its architectural side effects (TLB flush
 * rules, PDPTE load and its #GP). CR4.PAE, CR4.LA57 and EFER.LMA are implied by the
 * {@link PagingMode}. Not thread-safe: one instance per simulated CPU.
 */
public final class CpuRegisters {

    /** CR3 bit 63: with CR4.PCIDE=1, a CR3 write that keeps the new PCID's TLB entries. */
    public static final long CR3_NOFLUSH = 1L << 63;

    private final PagingMode mode;
    private final int maxPhyAddr;
    private long cr3;
    /** {@link #topTableAddress()}, recomputed on each CR3 write: every walk reads it. */
    private long topTable;
    private boolean wp = true;
    private boolean nxe;
    private boolean pse = true;
    private boolean pge;
    private boolean pcide;
    private boolean smep;
    private boolean smap;
    private boolean pke;
    private int pkru;
    private boolean ac;
    private final long[] pdpte = new long[PaePdpte.ENTRIES];

    // Derived state read on every translation, kept up to date by the setters so that the
    // walker and the TLB-hit path test one field instead of re-deriving it from several.
    /** CR4.PKE in effect: set and in 4/5-level paging. */
    private boolean pkeActive;
    /** See {@link #deniedRights()}; looked up again whenever WP, SMEP, SMAP or AC changes. */
    private long deniedRights;
    /**
     * {@link #deniedRights()} when protection keys are off, else -1, which no real table is (a
     * user-mode read of a page with every right is never denied, so bit 0 of a table is always
     * 0): the translation paths test this one field.
     */
    private long rightsFastPath;
    /** See {@link #pagingKey()}; updated by the constructor, setNxe and setPse. */
    private int pagingKey;

    public CpuRegisters(PagingMode mode) {
        this(mode, mode.defaultMaxPhyAddr());
    }

    public CpuRegisters(PagingMode mode, int maxPhyAddr) {
        if (maxPhyAddr < 32 || maxPhyAddr > mode.maxMaxPhyAddr()) {
            throw new IllegalArgumentException("MAXPHYADDR " + maxPhyAddr + " is outside 32.." + mode.maxMaxPhyAddr()
                    + " for " + mode);
        }
        this.mode = mode;
        this.maxPhyAddr = maxPhyAddr;
        this.nxe = mode.hasNx();
        updatePagingKey();
        updateDeniedRights();
    }

    /**
     * Everything a page walk's constants depend on, in one nonzero int: the mode, MAXPHYADDR,
     * EFER.NXE and CR4.PSE. The walker recomputes its masks only when this changes, with one
     * compare per walk.
     */
    int pagingKey() {
        return pagingKey;
    }

    private void updatePagingKey() {
        pagingKey = 1 | mode.ordinal() << 1 | maxPhyAddr << 4 | (nxe() ? 1 << 11 : 0) | (pse ? 1 << 12 : 0);
    }

    public PagingMode mode() {
        return mode;
    }

    public int maxPhyAddr() {
        return maxPhyAddr;
    }

    /** The raw CR3 value (including PCID bits 11:0 when CR4.PCIDE=1). */
    public long cr3() {
        return cr3;
    }

    /** Sets CR3 with no side effects; see {@link Mmu#writeCr3}. Bit 63 is never stored. */
    public void setCr3(long value) {
        this.cr3 = value & ~CR3_NOFLUSH;
        this.topTable = tableAddressOf(cr3);
    }

    /**
     * Physical address of the top-level table named by CR3: bits 31:12 for 32-bit paging,
     * bits 31:5 for PAE (the 32-byte PDPT), bits M-1:12 for 4/5-level paging.
     */
    public long topTableAddress() {
        return topTable;
    }

    private long tableAddressOf(long cr3) {
        return switch (mode) {
            case X86_32 -> cr3 & 0xFFFF_F000L;
            case X86_32_PAE -> cr3 & 0xFFFF_FFE0L;
            default -> cr3 & Pte64.addressMask(maxPhyAddr, 12);
        };
    }

    /** The current PCID: CR3 bits 11:0 when CR4.PCIDE=1, else 0. */
    public int pcid() {
        return pcide ? (int) (cr3 & 0xFFF) : 0;
    }

    public boolean wp() {
        return wp;
    }

    public void setWp(boolean wp) {
        this.wp = wp;
        updateDeniedRights();
    }

    /** IA32_EFER.NXE; always false in 32-bit paging, which has no execute-disable bit. */
    public boolean nxe() {
        return nxe && mode.hasNx();
    }

    public void setNxe(boolean nxe) {
        this.nxe = nxe;
        updatePagingKey();
    }

    /** CR4.PSE: 4 MiB pages in 32-bit paging (PAE and 4/5-level paging ignore it). */
    public boolean pse() {
        return pse;
    }

    public void setPse(boolean pse) {
        this.pse = pse;
        updatePagingKey();
    }

    public boolean pge() {
        return pge;
    }

    public void setPge(boolean pge) {
        this.pge = pge;
    }

    public boolean pcide() {
        return pcide;
    }

    public void setPcide(boolean pcide) {
        if (pcide && !mode.isLongMode()) {
            throw new IllegalArgumentException("CR4.PCIDE needs 4- or 5-level paging, not " + mode);
        }
        this.pcide = pcide;
    }

    public boolean smep() {
        return smep;
    }

    public void setSmep(boolean smep) {
        this.smep = smep;
        updateDeniedRights();
    }

    public boolean smap() {
        return smap;
    }

    public void setSmap(boolean smap) {
        this.smap = smap;
        updateDeniedRights();
    }

    /** CR4.PKE: protection keys, effective only with 4/5-level paging. */
    public boolean pke() {
        return pkeActive;
    }

    public void setPke(boolean pke) {
        this.pke = pke;
        this.pkeActive = pke && mode.isLongMode();
        rightsFastPath = pkeActive ? -1 : deniedRights;
    }

    public int pkru() {
        return pkru;
    }

    public void setPkru(int pkru) {
        this.pkru = pkru;
    }

    /** EFLAGS.AC: with CR4.SMAP=1, lets explicit supervisor data accesses reach user pages. */
    public boolean ac() {
        return ac;
    }

    public void setAc(boolean ac) {
        this.ac = ac;
        updateDeniedRights();
    }

    /** PAE: the PDPTE register {@code i} (0..3) as loaded at the last CR3 write. */
    public long pdpte(int i) {
        return pdpte[i];
    }

    void setPdpte(int i, long value) {
        pdpte[i] = value;
    }

    // ---- the access-rights decision as a table (SDM 4.6) ---------------------------------------

    /**
     * The rights part of SDM 4.6 (everything but protection keys) for the current CR0.WP,
     * CR4.SMEP, CR4.SMAP and EFLAGS.AC, as a 64-bit table: bit {@code 8 * kind + restrictions}
     * is 1 when an access of that {@link #accessKind kind} to a translation with those combined
     * {@link WalkResult} restrictions (3 bits) is denied. The walker and the TLB-hit path test
     * one bit instead of evaluating the rules, whose inputs change rarely (a CR0/CR4 write,
     * STAC/CLAC). There are only 16 such tables, one per (WP, SMEP, SMAP, AC), built once
     * ({@link #DENIED_RIGHTS}); a change of an input looks its table up.
     */
    long deniedRights() {
        return deniedRights;
    }

    /** {@link #deniedRights()} if CR4.PKE is not in effect, else -1. */
    long rightsFastPath() {
        return rightsFastPath;
    }

    /**
     * The row of {@link #deniedRights()} for an access: 0..2 user-mode READ/WRITE/FETCH,
     * 3..5 explicit supervisor-mode, 6..7 implicit supervisor-mode READ/WRITE (an implicit
     * access is never a fetch; the rules for a supervisor fetch do not depend on it anyway).
     * Callers pass constants almost always, so this folds away after inlining.
     */
    static int accessKind(AccessType access, boolean user, boolean implicit) {
        int a = access.ordinal();
        if (user && !implicit) {
            return a;
        }
        return implicit && access != AccessType.FETCH ? 6 + a : 3 + a;
    }

    /**
     * {@link #deniedRights()}'s table for each (WP, SMEP, SMAP, AC), indexed by
     * {@link #rightsIndex}: a constant of the SDM's rules, computed once per class, so a
     * register write is one array load and the translation paths never rebuild a table (a
     * rebuild on the first translation after a CPU's registers were made was, with a
     * fresh machine per explored schedule, compiled into Mmu.translate and made HotSpot
     * recompile it).
     */
    private static final long[] DENIED_RIGHTS = deniedRightsTables();

    private static long[] deniedRightsTables() {
        long[] tables = new long[16];
        for (int i = 0; i < tables.length; i++) {
            tables[i] = deniedRightsTable((i & 8) != 0, (i & 4) != 0, (i & 2) != 0, (i & 1) != 0);
        }
        return tables;
    }

    private static int rightsIndex(boolean wp, boolean smep, boolean smap, boolean ac) {
        return (wp ? 8 : 0) | (smep ? 4 : 0) | (smap ? 2 : 0) | (ac ? 1 : 0);
    }

    private void updateDeniedRights() {
        deniedRights = DENIED_RIGHTS[rightsIndex(wp, smep, smap, ac)];
        rightsFastPath = pkeActive ? -1 : deniedRights;
    }

    private static long deniedRightsTable(boolean wp, boolean smep, boolean smap, boolean ac) {
        long table = 0;
        AccessType[] accesses = AccessType.values();
        for (int kind = 0; kind < 8; kind++) {
            AccessType access = accesses[kind % 3];
            boolean user = kind < 3;
            boolean implicit = kind >= 6;
            for (int restr = 0; restr < 8; restr++) {
                if (PageWalker.rightsViolation(wp, smep, smap, ac, access, user, implicit, restr)) {
                    table |= 1L << (8 * kind + restr);
                }
            }
        }
        return table;
    }
}

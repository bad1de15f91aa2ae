package ptlab.kernel;

/**
 * struct flush_tlb_info (Linux v6.6 arch/x86/include/asm/tlbflush.h): what one flush request asks. One
 * instance per sending CPU, reused (get_flush_tlb_info() uses a per-CPU variable too), so the
 * flush path allocates nothing.
 */
public final class FlushTlbInfo {

    /** TLB_FLUSH_ALL as an end address. */
    public static final long TLB_FLUSH_ALL = -1L;

    /** The mm whose entries go; null for kernel-range flushes (flush_tlb_kernel_range). */
    public MmStruct mm;
    public long start;
    public long end;
    /** The mm's tlb_gen after this request's increment. */
    public long new_tlb_gen;
    public int stride_shift;
    /** Page tables were freed: lazy CPUs must be reached too (they may walk the old tables). */
    public boolean freed_tables;
    public int initiating_cpu;

    void set(MmStruct mm, long start, long end, int strideShift, boolean freedTables, long newTlbGen, int cpu) {
        this.mm = mm;
        this.start = start;
        this.end = end;
        this.stride_shift = strideShift;
        this.freed_tables = freedTables;
        this.new_tlb_gen = newTlbGen;
        this.initiating_cpu = cpu;
    }

    @Override
    public String toString() {
        return String.format("flush %s [0x%x, %s) gen %d%s", mm, start,
                end == TLB_FLUSH_ALL ? "ALL" : String.format("0x%x", end), new_tlb_gen, freed_tables ? " freed_tables" : "");
    }
}

package ptlab.engine;

/**
 * A broken invariant: its number in DESIGN.md ("Invariants the checker knows", 0 for engine
 * errors such as a deadlock), the step it was found at, and a message naming the CPU, the
 * address and the entry.
 */
public record Violation(int invariant, long step, String message) {

    public static final int DEADLOCK = 0;

    /** "invariant 1 (no lost dirty bit) violated at step 17: …" */
    public String describe() {
        return (invariant == DEADLOCK ? "deadlock" : "invariant " + invariant + " (" + title(invariant) + ")")
                + " violated at step " + step + ": " + message;
    }

    /** Invariants 1..8 of DESIGN.md, and the relocation study's 9 (a moved table maps what the
     * original mapped) and 10 (no direct write to a pinned table under a validating hypervisor). */
    public static final int INVARIANTS = 10;

    /** The JSON key of an invariant's check count: "1_lost_dirty", "2_freed_table", ... */
    public static String key(int invariant) {
        return switch (invariant) {
            case 1 -> "1_lost_dirty";
            case 2 -> "2_freed_table";
            case 3 -> "3_stale_tlb";
            case 4 -> "4_kernel_mapping";
            case 5 -> "5_fault_in_nmi";
            case 6 -> "6_leak_double_free";
            case 7 -> "7_cow";
            case 8 -> "8_pte_outside_vma";
            case 9 -> "9_moved_table";
            case 10 -> "10_pinned_write";
            default -> "0_engine";
        };
    }

    public static String title(int invariant) {
        return switch (invariant) {
            case 1 -> "no lost dirty bit";
            case 2 -> "no use of a freed page-table page";
            case 3 -> "no stale TLB entry past the point the kernel relies on it";
            case 4 -> "kernel mappings visible where they may not fault";
            case 5 -> "no page fault inside an NMI handler";
            case 6 -> "page-table pages neither leaked nor double-freed";
            case 9 -> "a moved page table maps what the original mapped";
            case 10 -> "no direct write to a pinned page table (paravirt)";
            default -> "engine";
        };
    }
}

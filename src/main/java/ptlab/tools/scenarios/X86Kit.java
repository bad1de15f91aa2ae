package ptlab.tools.scenarios;

import ptlab.hw.CpuRegisters;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.engine.Machine;

/**
 * A small x86-64 address space built by hand for the hw-level scenarios: one user page mapped
 * through pgd/pud/pmd/pte tables at fixed frames, registered with the machine so traces decode
 * the entries.
 * <pre>
 *   pgd 0x1000 → pud 0x2000 → pmd 0x3000 → pte 0x4000 → page 0x10000     va 0x7f0000201000
 * </pre>
 */
final class X86Kit {

    static final PagingMode MODE = PagingMode.X86_64;
    static final long PGD = 0x1000;
    static final long PUD = 0x2000;
    static final long PMD = 0x3000;
    static final long PTE = 0x4000;
    static final long PAGE = 0x10000;
    static final long VA = 0x7f00_0020_1000L;
    static final long TABLE_FLAGS = PteBits.P | PteBits.RW | PteBits.US | PteBits.A;
    /** A present, writable, user, accessed and clean leaf: what a fresh anonymous mapping read once looks like. */
    static final long CLEAN_LEAF = PteBits.P | PteBits.RW | PteBits.US | PteBits.A;

    final Machine machine;
    final PhysicalMemory memory;

    X86Kit() {
        this(new ptlab.check.Invariants());
    }

    /** The address space on a machine whose invariants {@code checker} checks. */
    X86Kit(ptlab.engine.Checker checker) {
        memory = new PhysicalMemory(16L << 20);
        machine = new Machine(memory, MODE, checker);
        store(PGD, VA, 4, PUD | TABLE_FLAGS);
        store(PUD, VA, 3, PMD | TABLE_FLAGS);
        store(PMD, VA, 2, PTE | TABLE_FLAGS);
        store(PTE, VA, 1, PAGE | CLEAN_LEAF);
        memory.storeLong(PAGE, 0);
        machine.registerPageTable(PGD, 4);
        machine.registerPageTable(PUD, 3);
        machine.registerPageTable(PMD, 2);
        machine.registerPageTable(PTE, 1);
    }

    /** The address of {@code va}'s entry in the level-{@code level} table at {@code table}. */
    static long entry(long table, long va, int level) {
        return table + (long) MODE.index(va, level) * 8;
    }

    private void store(long table, long va, int level, long value) {
        memory.storeLong(entry(table, va, level), value);   // before start(): not a scheduling point
    }

    /** Registers of a CPU running this mm (CR3 = the pgd). */
    static CpuRegisters registers() {
        CpuRegisters r = new CpuRegisters(MODE);
        r.setCr3(PGD);
        return r;
    }
}

package ptlab.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.PagingMode;

/**
 * The numbers {@code ptlab demo} prints for a process, worked out from the mode's table
 * geometry: 256 pages of one 1 MiB mapping fit in one pte table in every mode (a pte table
 * spans 4 MiB on x86-32 and 2 MiB elsewhere, and mmap places the mapping top-down, so it
 * would need two tables only if it straddled such a boundary).
 */
class ProcessDemoTest {

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void forkCowMunmapExit(PagingMode mode) {
        ProcessDemo.Result r = ProcessDemo.run(mode);
        assertEquals(256, r.faults(), "one demand-zero fault per page");
        // pgd + every level down to one pte table; PAE: the pgd is a 32-byte slab object, but
        // pgd_alloc preallocates the 3 user pmds (PREALLOCATED_USER_PMDS) and one pte table is used.
        long expectedTables = switch (mode) {
            case X86_32 -> 2;               // pgd + pte
            case X86_32_PAE -> 3 + 1;       // 3 preallocated user pmds + pte
            case X86_64 -> 4;               // pgd, pud, pmd, pte
            case X86_64_LA57 -> 5;          // pgd, p4d, pud, pmd, pte
        };
        assertEquals(expectedTables, r.userTablePages());
        assertEquals(expectedTables, r.forkTablePages(), "the child gets the same shape of tables");
        assertEquals(0, r.forkUserPages(), "fork shares anonymous pages copy-on-write");
        assertEquals(1, r.cowCopies(), "the child's write copies exactly one page");
        assertEquals(0xc41d, r.childSees());
        assertEquals(0x1000, r.parentSees(), "the parent keeps its own page 0");
        assertEquals(1, r.munmapFreedTables(), "the pte table; the upper tables still cover the stack");
        assertEquals(0, r.leakedFrames());
    }
}

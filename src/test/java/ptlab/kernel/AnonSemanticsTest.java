package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import org.junit.jupiter.api.Test;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;

/**
 * Anonymous memory as Linux v6.6 has it: MAP_SHARED|MAP_ANONYMOUS is a shmem file
 * (shmem_zero_setup), so parent and child share even the pages first touched after fork; and
 * COW reuse follows PageAnonExclusive (do_wp_page, wp_can_reuse_anon_folio).
 */
class AnonSemanticsTest {

    private static final int RW = PROT_READ | PROT_WRITE;

    private static Kernel boot() {
        return new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(2));
    }

    @Test
    void sharedAnonymousPagesFirstTouchedAfterForkAreShared() {
        Kernel k = boot();
        Task parent = k.createProcess();
        k.switchTo(k.cpu(0), parent);
        long a = k.mmap(parent, 0, 4 * 4096, RW, MAP_SHARED | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(k.cpu(0), a, 11), "page 0 touched before the fork");
        Task child = k.fork(parent);
        k.switchTo(k.cpu(1), child);
        assertEquals(-1, k.lookup(child.mm(), a), "fork copies no ptes of a shared mapping (vma_needs_copy)");

        assertTrue(k.writeUserLong(k.cpu(0), a + 4096, 22), "parent touches page 1 first, after the fork");
        assertEquals(22, k.readUserLong(k.cpu(1), a + 4096, -1), "the child sees the parent's write");
        assertTrue(k.writeUserLong(k.cpu(1), a + 2 * 4096, 33), "child touches page 2 first");
        assertEquals(33, k.readUserLong(k.cpu(0), a + 2 * 4096, -1), "the parent sees the child's write");
        assertEquals(11, k.readUserLong(k.cpu(1), a, -1), "and the page faulted before the fork");
        for (int p = 0; p < 3; p++) {
            assertEquals(k.lookup(parent.mm(), a + p * 4096L), k.lookup(child.mm(), a + p * 4096L), "page " + p);
        }
        long pa = k.lookup(parent.mm(), a + 4096);
        assertEquals(3, k.allocator().pageCount(pa & -4096L), "the page cache's reference and one per pte");

        k.switchTo(k.cpu(1), null);
        k.exit(child);
        assertEquals(22, k.readUserLong(k.cpu(0), a + 4096, -1), "the parent keeps the page");
        k.switchTo(k.cpu(0), null);
        k.exit(parent);
        k.unlazyAll();
        k.checkNoLeaks();
    }

    @Test
    void aSplitSharedMappingKeepsItsFileOffsets() {
        Kernel k = boot();
        Task parent = k.createProcess();
        k.switchTo(k.cpu(0), parent);
        long a = k.mmap(parent, 0, 4 * 4096, RW, MAP_SHARED | MAP_ANONYMOUS);
        Task child = k.fork(parent);
        k.switchTo(k.cpu(1), child);
        assertEquals(0, k.munmap(child, a + 4096, 4096), "the child splits its vma in three");
        assertEquals(0, k.mprotect(child, a + 2 * 4096, 4096, PROT_READ), "and mprotects page 2 (another split)");
        assertTrue(k.writeUserLong(k.cpu(0), a + 3 * 4096, 44));
        assertEquals(44, k.readUserLong(k.cpu(1), a + 3 * 4096, -1), "the tail vma maps file page 3 (vm_pgoff)");
        assertTrue(k.writeUserLong(k.cpu(0), a + 2 * 4096, 55));
        assertEquals(55, k.readUserLong(k.cpu(1), a + 2 * 4096, -1));
        assertEquals(0, k.mprotect(child, a + 2 * 4096, 4096, RW), "merging back keeps the offsets consistent");
        assertTrue(k.writeUserLong(k.cpu(1), a + 2 * 4096, 66));
        assertEquals(66, k.readUserLong(k.cpu(0), a + 2 * 4096, -1));
        assertEquals(SIGSEGV, k.access(k.cpu(1), a + 4096, AccessType.READ));
        k.switchTo(k.cpu(0), null);
        k.switchTo(k.cpu(1), null);
        k.exit(child);
        k.exit(parent);
        k.unlazyAll();
        k.checkNoLeaks();
    }

    @Test
    void cowReuseFollowsPageAnonExclusive() {
        Kernel k = boot();
        Task parent = k.createProcess();
        k.switchTo(k.cpu(0), parent);
        long a = k.mmap(parent, 0, 2 * 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(k.cpu(0), a, 1));
        long page = k.lookup(parent.mm(), a) & -4096L;
        assertTrue(k.allocator().anonExclusive(page), "a page faulted in is exclusive (folio_add_new_anon_rmap)");
        Task child = k.fork(parent);
        k.switchTo(k.cpu(1), child);
        assertFalse(k.allocator().anonExclusive(page), "fork shares it: no longer exclusive");
        assertEquals(2, k.allocator().pageCount(page));

        long copies = k.stats().cowCopies.get();
        assertTrue(k.writeUserLong(k.cpu(0), a, 2), "the parent writes: a copy");
        assertEquals(copies + 1, k.stats().cowCopies.get());
        long copy = k.lookup(parent.mm(), a) & -4096L;
        assertNotEquals(page, copy);
        assertTrue(k.allocator().anonExclusive(copy), "the copy is exclusive");
        assertEquals(1, k.allocator().pageCount(page), "the copy's reference was dropped again, and the parent's");

        long reuses = k.stats().wpReuses.get();
        assertTrue(k.writeUserLong(k.cpu(1), a, 3), "the child is now the only user: wp_can_reuse_anon_folio");
        assertEquals(reuses + 1, k.stats().wpReuses.get());
        assertEquals(page, k.lookup(child.mm(), a) & -4096L, "reused in place");
        assertTrue(k.allocator().anonExclusive(page), "and exclusive again");
        assertEquals(2, k.readUserLong(k.cpu(0), a, -1), "the parent's copy holds 2");
        assertEquals(3, k.readUserLong(k.cpu(1), a, -1));

        k.switchTo(k.cpu(0), null);
        k.switchTo(k.cpu(1), null);
        k.exit(child);
        k.exit(parent);
        k.unlazyAll();
        k.checkNoLeaks();
    }
}

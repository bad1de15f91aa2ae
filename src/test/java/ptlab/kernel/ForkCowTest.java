package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.hw.PteBits;

/** fork + copy-on-write keeps parent and child isolated; all page tables go at exit. */
class ForkCowTest {

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void writesAfterForkAreIsolated(PagingMode mode) {
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(64L << 20));
        Cpu cpu = k.cpu(0);
        Task parent = k.createProcess();
        k.switchTo(cpu, parent);
        long a = k.mmap(parent, 0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        for (int i = 0; i < 4; i++) {
            assertTrue(k.writeUserLong(cpu, a + i * 4096L, 100 + i));
        }
        long parentPa = k.lookup(parent.mm(), a);

        Task child = k.fork(parent);
        assertNotNull(child);
        assertEquals(parentPa, k.lookup(child.mm(), a), "child shares the frame");
        assertEquals(2, k.allocator().pageCount(parentPa & -4096L));
        assertFalse(PteBits.writable(k.leafEntry(parent.mm(), a)), "parent pte write-protected");
        assertFalse(PteBits.writable(k.leafEntry(child.mm(), a)), "child pte write-protected");

        // The parent writes page 0: it gets a copy; the child still sees the old value.
        assertTrue(k.writeUserLong(cpu, a, 999));
        assertNotEquals(parentPa, k.lookup(parent.mm(), a) & -4096L);
        assertEquals(1, k.allocator().pageCount(parentPa & -4096L));

        k.switchTo(cpu, child);
        assertEquals(100, k.readUserLong(cpu, a, -1), "child sees the data from before its parent's write");
        // The child writes page 1: its own copy; page 0 in the child is now exclusive: reused, not copied.
        long cowBefore = k.stats().cowCopies.get();
        assertTrue(k.writeUserLong(cpu, a + 4096, 555));
        assertEquals(cowBefore + 1, k.stats().cowCopies.get());
        long reuseBefore = k.stats().wpReuses.get();
        assertTrue(k.writeUserLong(cpu, a, 777));
        assertEquals(reuseBefore + 1, k.stats().wpReuses.get(), "last user of a COW page reuses it");
        assertEquals(parentPa, k.lookup(child.mm(), a), "reused in place");

        k.switchTo(cpu, parent);
        assertEquals(999, k.readUserLong(cpu, a, -1));
        assertEquals(101, k.readUserLong(cpu, a + 4096, -1), "parent does not see the child's write");
        assertEquals(102, k.readUserLong(cpu, a + 2 * 4096, -1));

        k.exit(child);
        k.exit(parent);
        k.unlazyAll();
        k.checkNoLeaks();
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void tenProcessesFreeEveryPageTableAtExit(PagingMode mode) {
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(128L << 20).withCpus(2));
        long[] before = new long[6];
        for (int l = 1; l <= mode.levels(); l++) {
            before[l] = k.pageTablePages(l);
        }
        Task[] tasks = new Task[10];
        for (int i = 0; i < tasks.length; i++) {
            Cpu cpu = k.cpu(i % 2);
            tasks[i] = i % 3 == 2 ? k.fork(tasks[i - 1]) : k.createProcess();
            k.switchTo(cpu, tasks[i]);
            long a = k.mmap(tasks[i], 0, 3L << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
            for (long off = 0; off < (3L << 20); off += 64 << 10) {
                assertTrue(k.writeUserLong(cpu, a + off, off));
            }
            long stack = tasks[i].mm().startStack() - 8;
            assertTrue(k.writeUserLong(cpu, stack, i));
            assertTrue(k.writeUserLong(cpu, stack - (200 << 10), i), "stack grows down");
            long brk0 = k.brk(tasks[i], 0);
            assertEquals(brk0 + (1 << 20), k.brk(tasks[i], brk0 + (1 << 20)));
            assertTrue(k.writeUserLong(cpu, brk0 + 4096, i));
        }
        assertTrue(k.pageTablePages(1) > before[1]);
        for (Task t : tasks) {
            if (t.cpu() != null) {
                k.switchTo(t.cpu(), null);
            }
        }
        for (Task t : tasks) {
            k.exit(t);
        }
        k.unlazyAll();
        for (int l = 1; l <= mode.levels(); l++) {
            assertEquals(before[l], k.pageTablePages(l), "page tables of level " + l + " left after exit");
        }
        k.checkNoLeaks();
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void accessRightsFollowVmFlags(PagingMode mode) {
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(64L << 20));
        Cpu cpu = k.cpu(0);
        Task t = k.createProcess();
        k.switchTo(cpu, t);
        long ro = k.mmap(t, 0, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.access(cpu, ro, AccessType.READ) >= 0);
        assertEquals(SIGSEGV, k.access(cpu, ro, AccessType.WRITE));
        long rw = k.mmap(t, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(cpu, rw, 7));
        assertEquals(0, k.mprotect(t, rw, 4096, PROT_READ));
        assertEquals(SIGSEGV, k.access(cpu, rw, AccessType.WRITE), "mprotect flushed the writable TLB entry");
        assertEquals(7, k.readUserLong(cpu, rw, -1));
        assertEquals(0, k.mprotect(t, rw, 4096, PROT_NONE));
        assertEquals(SIGSEGV, k.access(cpu, rw, AccessType.READ));
        assertEquals(0, k.mprotect(t, rw, 4096, PROT_READ | PROT_WRITE));
        assertEquals(7, k.readUserLong(cpu, rw, -1), "data survives PROT_NONE");
        assertTrue(k.writeUserLong(cpu, rw, 8));
        if (mode.hasNx()) {
            assertEquals(SIGSEGV, k.access(cpu, rw, AccessType.FETCH), "NX without PROT_EXEC");
        }
        assertEquals(SIGSEGV, k.access(cpu, k.layout().pageOffset(), AccessType.READ), "kernel address from user mode");
        assertEquals(3, t.mm().vmas().size() - 0, t.mm().vmas().toString().strip());
        assertEquals(0, k.munmap(t, rw, 8192));
        assertEquals(SIGSEGV, k.access(cpu, rw, AccessType.READ));
        k.exit(t);
        k.unlazyAll();
        k.checkNoLeaks();
    }
}

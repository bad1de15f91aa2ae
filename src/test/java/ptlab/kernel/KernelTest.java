package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;

class KernelTest {

    static Kernel boot(PagingMode mode) {
        return new Kernel(mode, KernelConfig.defaults().withRam(64L << 20));
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void demandPagingReadWriteAndExitBalances(PagingMode mode) {
        Kernel k = boot(mode);
        Cpu cpu = k.cpu(0);
        Task t = k.createProcess();
        k.switchTo(cpu, t);
        long a = k.mmap(t, 0, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertFalse(Errno.isError(a), "mmap: " + a);
        assertEquals(0, k.readUserLong(cpu, a, -1), "fresh anonymous memory reads zero");
        assertEquals(k.zeroPage(), k.lookup(t.mm(), a), "a read fault maps the zero page");
        assertTrue(k.writeUserLong(cpu, a + 8, 42));
        assertNotEquals(k.zeroPage() + 8, k.lookup(t.mm(), a + 8));
        assertEquals(42, k.readUserLong(cpu, a + 8, -1));
        assertEquals(1, t.mm().rss());
        assertEquals(SIGSEGV, k.access(cpu, a + (64 << 10), AccessType.READ), "past the vma");
        k.exit(t);
        k.unlazyAll();
        k.checkNoLeaks();
    }
}

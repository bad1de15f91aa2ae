package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** struct cpumask's words: CPU i at bit i % 64 of word i / 64, across the word boundaries. */
class CpumaskTest {

    @Test
    void wordsPerCpuCount() {
        assertEquals(1, Cpumask.words(1));
        assertEquals(1, Cpumask.words(64));
        assertEquals(2, Cpumask.words(65));
        assertEquals(2, Cpumask.words(128));
        assertEquals(3, Cpumask.words(129));
    }

    @Test
    void cpusAtTheWordBoundariesLandInTheirOwnWordAndBit() {
        Cpumask m = new Cpumask(128);
        m.set(63);
        m.set(64);
        m.set(127);
        assertEquals(1L << 63, m.word(0), "CPU63 is the top bit of word 0");
        assertEquals((1L << 63) | 1, m.word(1), "CPU64 is bit 0 of word 1, CPU127 its top bit");
        assertTrue(m.test(63) && m.test(64) && m.test(127));
        assertFalse(m.test(0) || m.test(62) || m.test(65) || m.test(126));
        assertEquals(3, m.weight());
        m.clear(64);
        assertEquals(1L << 63, m.word(1));
        assertFalse(m.test(64));
    }

    @Test
    void forEachCpuVisitsEveryWordInOrder() {
        Cpumask m = new Cpumask(130);
        int[] cpus = {0, 63, 64, 100, 127, 128, 129};
        for (int c : cpus) {
            m.set(c);
        }
        StringBuilder seen = new StringBuilder();
        for (int c = m.next(-1); c >= 0; c = m.next(c)) {
            seen.append(c).append(' ');
        }
        assertEquals("0 63 64 100 127 128 129 ", seen.toString());
        assertEquals("{0,63,64,100,127,128,129}", m.toString());
        assertEquals(-1, m.next(129), "nothing after the last CPU");
        m.clearAll();
        assertTrue(m.isEmpty());
        assertEquals(-1, m.next(-1));
    }

    @Test
    void setAllStopsAtNrCpus() {
        Cpumask m = new Cpumask(100);
        m.setAll();
        assertEquals(-1L, m.word(0));
        assertEquals((1L << 36) - 1, m.word(1), "CPUs 64..99");
        assertEquals(100, m.weight());
        Cpumask full = new Cpumask(128);
        full.setAll();
        assertEquals(-1L, full.word(1));
        assertEquals(127, lastOf(full));
    }

    @Test
    void cpusOutsideTheMaskAreRejectedByNumber() {
        Cpumask m = new Cpumask(64);
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> m.set(64));
        assertTrue(e.getMessage().contains("CPU 64"), e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> m.test(-1));
        assertThrows(IllegalArgumentException.class, () -> new Cpumask(0));
    }

    @Test
    void mmCpumaskHasAWordPer64CpusAndSetsTheRightOne() {
        Kernel k = new Kernel(ptlab.hw.PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(128));
        Task t = k.createProcess();
        assertEquals(2, t.mm().cpumaskWords());
        k.switchTo(k.cpu(127), t);
        k.switchTo(k.cpu(63), k.cloneThread(t));
        assertEquals(1L << 63, t.mm().cpumaskWord(0));
        assertEquals(1L << 63, t.mm().cpumaskWord(1));
        assertTrue(t.mm().cpumaskTest(127) && t.mm().cpumaskTest(63) && !t.mm().cpumaskTest(64));
        Cpumask copy = new Cpumask(128);
        t.mm().cpumask(copy);
        assertEquals("{63,127}", copy.toString());
        Kernel small = new Kernel(ptlab.hw.PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(64));
        assertEquals(1, small.createProcess().mm().cpumaskWords(), "64 CPUs: one word, as before");
    }

    private static int lastOf(Cpumask m) {
        int last = -1;
        for (int c = m.next(-1); c >= 0; c = m.next(c)) {
            last = c;
        }
        return last;
    }
}

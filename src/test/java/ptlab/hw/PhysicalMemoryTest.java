package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PhysicalMemoryTest {

    @Test
    void untouchedFramesReadZeroWithoutAllocating() {
        PhysicalMemory m = new PhysicalMemory(64L << 30, 2);
        assertEquals(0, m.loadLong(0x12345678L & ~7));
        assertEquals(0, m.loadInt(0x7000_0004L));
        assertEquals(0, m.framesTouched());
    }

    @Test
    void thirtyTwoBitHalvesAreLittleEndianAndIndependent() {
        PhysicalMemory m = new PhysicalMemory(1 << 20);
        m.storeLong(0x1000, 0x1122_3344_5566_7788L);
        assertEquals(0x5566_7788, m.loadInt(0x1000));
        assertEquals(0x1122_3344, m.loadInt(0x1004));
        m.storeInt(0x1004, 0xAABB_CCDD);
        assertEquals(0xAABB_CCDD_5566_7788L, m.loadLong(0x1000));
        assertFalse(m.compareAndSetInt(0x1000, 0, 1));
        assertTrue(m.compareAndSetInt(0x1000, 0x5566_7788, 0x0102_0304));
        assertEquals(0xAABB_CCDD_0102_0304L, m.loadLong(0x1000));
        assertEquals(0xAABB_CCDD, m.exchangeInt(0x1004, 7));
        assertEquals(0x0000_0007_0102_0304L, m.loadLong(0x1000));
        assertEquals(1, m.framesTouched());
    }

    @Test
    void casAndExchangeOnLongs() {
        PhysicalMemory m = new PhysicalMemory(1 << 20);
        assertTrue(m.compareAndSetLong(0x2008, 0, 5));
        assertFalse(m.compareAndSetLong(0x2008, 0, 6));
        assertEquals(5, m.exchangeLong(0x2008, 9));
        assertEquals(9, m.loadLong(0x2008));
    }

    @Test
    void nodesSplitMemoryEvenly() {
        PhysicalMemory m = new PhysicalMemory(4L << 30, 4);
        assertEquals(0, m.nodeOf(0));
        assertEquals(1, m.nodeOf(1L << 30));
        assertEquals(3, m.nodeOf((4L << 30) - 8));
        assertEquals(2L << 30, m.nodeStart(2));
        assertEquals(3L << 30, m.nodeEnd(2));
    }

    @Test
    void badAccessesNameTheAddress() {
        PhysicalMemory m = new PhysicalMemory(1 << 20);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.loadLong(0x100000));
        assertTrue(e.getMessage().contains("0x100000"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> m.loadLong(0x1004));
        assertTrue(e.getMessage().contains("misaligned"), e.getMessage());
    }

    @Test
    void zeroAndCopyFrames() {
        PhysicalMemory m = new PhysicalMemory(1 << 20);
        m.storeLong(0x3ff8, 42);
        m.copyFrame(0x3000, 0x5000);
        assertEquals(42, m.loadLong(0x5ff8));
        m.zeroFrame(0x3123);
        assertEquals(0, m.loadLong(0x3ff8));
    }

    /** A hook that records each access, or (bulk) only counts them. */
    private static final class RecordingHook implements PhysicalMemory.AccessHook {
        final boolean bulk;
        final java.util.List<Long> seen = new java.util.ArrayList<>();
        long counted;

        RecordingHook(boolean bulk) {
            this.bulk = bulk;
        }

        @Override
        public void beforeAccess(int op, long pa) {
            assertEquals(PhysicalMemory.OP_LOAD, op);
            seen.add(pa);
            counted++;
        }

        @Override
        public boolean onlyCounts() {
            return bulk;
        }

        @Override
        public void beforeAccesses(int op, int n) {
            assertEquals(PhysicalMemory.OP_LOAD, op);
            counted += n;
        }
    }

    @Test
    void loadEntriesIsOneLoadEntryPerAddressAndCountsEach() {
        PhysicalMemory m = new PhysicalMemory(1 << 24);
        m.storeLong(0x3008, 0x8000_0000_1234_5067L);
        m.storeLong(0x9ff8, 0x0000_0000_00AB_C063L);
        long[] pas8 = {0x3008, 0x9ff8, 0x5000, 0x3008};          // 0x5000: never written
        long[] pas4 = {0x3008, 0x300c, 0x9ffc, 0x5004};
        for (boolean bulk : new boolean[] {false, true}) {
            for (long[] pas : new long[][] {pas8, pas4}) {
                int bytes = pas == pas8 ? 8 : 4;
                RecordingHook h = new RecordingHook(bulk);
                if (bulk) {
                    m.setMeter(h);
                } else {
                    m.setAccessHook(h);
                }
                long[] out = new long[pas.length];
                m.loadEntries(pas, 3, bytes, out);
                m.setAccessHook(null);
                m.setMeter(null);
                for (int i = 0; i < 3; i++) {
                    assertEquals(m.loadEntry(pas[i], bytes), out[i], "entry " + i + " of " + bytes + " bytes");
                }
                assertEquals(0, out[3], "only n entries are read");
                assertEquals(3, h.counted, "every load is an access");
                assertEquals(bulk ? java.util.List.of() : java.util.List.of(pas[0], pas[1], pas[2]), h.seen,
                        "a hook that acts sees each access, in order");
            }
        }
        assertTrue(m.accessesOnlyCounted(), "no hook");
        m.setMeter(new RecordingHook(true));
        assertTrue(m.accessesOnlyCounted(), "a meter only counts");
        m.setAccessHook(new RecordingHook(false));
        assertFalse(m.accessesOnlyCounted());
        assertThrows(IllegalArgumentException.class, () -> m.setMeter(new RecordingHook(false)),
                "the meter slot takes only a counting hook");
    }
}

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
}

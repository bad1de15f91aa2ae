package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.sim.WalkWorkloads;

/** The walker's remembered frames and precomputed masks must never change what a walk sees. */
class PageWalkerFastPathTest {

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void everyPageTranslatesToItsFrame(PagingMode mode) {
        WalkWorkloads.Workload w = WalkWorkloads.random(mode, 2048, 7);
        long delta = Long.MIN_VALUE;
        for (long va : w.vas) {
            assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out), w.out::toString);
            long d = w.out.pa - (va - w.baseVa);   // pages are mapped to consecutive frames
            if (delta == Long.MIN_VALUE) {
                delta = d;
            }
            assertEquals(delta, d, () -> "va 0x" + Long.toHexString(va) + " in " + mode);
            assertEquals(mode == PagingMode.X86_32_PAE ? 2 : mode.levels(), w.out.memoryRefs);
        }
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void seesEntryChangesAfterRemembering(PagingMode mode) {
        WalkWorkloads.Workload w = WalkWorkloads.samePage(mode);
        long va = w.vas[0];
        assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
        long leafAddress = w.out.leafEntryAddress;
        long leaf = w.out.leafEntry;
        int bytes = mode.entryBytes();

        w.memory.storeEntry(leafAddress, bytes, leaf & ~PteBits.P);
        assertFalse(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
        assertEquals(WalkResult.EXC_PF, w.out.exception);
        assertEquals(0, w.out.errorCode & PageFaultError.P);
        assertEquals(1, w.out.faultLevel);

        long rsvd = PageWalker.reservedMask(mode, 1, false, w.regs.maxPhyAddr(), w.regs.nxe());
        if (rsvd != 0) {
            w.memory.storeEntry(leafAddress, bytes, leaf | Long.lowestOneBit(rsvd));
            assertFalse(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
            assertEquals(PageFaultError.P | PageFaultError.RSVD, w.out.errorCode & (PageFaultError.P | PageFaultError.RSVD));
        }

        w.memory.storeEntry(leafAddress, bytes, (leaf & ~PteBits.A) + PhysicalMemory.PAGE_SIZE);
        assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
        assertEquals(PhysicalMemory.PAGE_SIZE, w.out.pa - (leaf & ~0xFFFL & 0xF_FFFF_FFFF_FFFFL) - (va & 0xFFF));
        assertTrue((w.memory.loadEntry(leafAddress, bytes) & PteBits.A) != 0, "A set again through the walk");
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void accessHookSeesEveryEntryLoad(PagingMode mode) {
        WalkWorkloads.Workload w = WalkWorkloads.samePage(mode);
        AtomicInteger loads = new AtomicInteger();
        w.memory.setAccessHook((op, pa) -> {
            if (op == PhysicalMemory.OP_LOAD) {
                loads.incrementAndGet();
            }
        });
        for (int i = 0; i < 3; i++) {
            assertTrue(w.walker.translate(w.regs, w.vas[0], AccessType.READ, false, false, w.out));
        }
        assertEquals(3 * w.out.memoryRefs, loads.get());
    }
}

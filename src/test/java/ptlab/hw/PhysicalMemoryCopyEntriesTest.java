package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * {@link PhysicalMemory#copyEntries} (clone_pgd_range's memcpy): every hook that acts sees each
 * load and store in order; in bulk, when the hook ignores accesses now, memory ends the same.
 */
class PhysicalMemoryCopyEntriesTest {

    /** Records every access; {@code idle} says whether it ignores them (the engine with no CPU running). */
    private static final class Recorder implements PhysicalMemory.AccessHook {
        final List<String> seen = new ArrayList<>();
        boolean idle;

        @Override
        public void beforeAccess(int op, long pa) {
            if (!idle) {
                seen.add((op == PhysicalMemory.OP_LOAD ? "L" : "S") + Long.toHexString(pa));
            }
        }

        @Override
        public boolean ignoresAccessesNow() {
            return idle;
        }
    }

    private static PhysicalMemory source() {
        PhysicalMemory m = new PhysicalMemory(1 << 20);
        for (int i = 0; i < 512; i += 3) {
            m.storeLong(0x1000 + 8L * i, 0x1000_0003L + i);
        }
        return m;
    }

    @Test
    void aWatchingHookSeesEveryLoadAndStoreInOrder() {
        PhysicalMemory m = source();
        Recorder r = new Recorder();
        m.setAccessHook(r);
        m.copyEntries(0x1800, 0x5800, 3, 8);
        assertEquals(List.of("L1800", "S5800", "L1808", "S5808", "L1810", "S5810"), r.seen);
        assertEquals(m.loadLong(0x1808), m.loadLong(0x5808));
    }

    @Test
    void inBulkWhileNothingWatchesMemoryEndsTheSame() {
        PhysicalMemory bulk = source();
        PhysicalMemory looped = source();
        Recorder idle = new Recorder();
        idle.idle = true;
        bulk.setAccessHook(idle);
        bulk.copyEntries(0x1800, 0x7800, 256, 8);          // the kernel half of a pgd
        for (int i = 0; i < 256; i++) {
            looped.storeEntry(0x7800 + 8L * i, 8, looped.loadEntry(0x1800 + 8L * i, 8));
        }
        assertEquals(looped.contentHash(), bulk.contentHash());
        assertEquals(0, idle.seen.size());

        bulk.copyEntries(0x9000, 0x7800, 4, 8);             // zeros from an untouched frame
        assertEquals(0, bulk.loadLong(0x7800));
        assertEquals(looped.loadLong(0x7820), bulk.loadLong(0x7820));
        long touched = bulk.framesTouched();
        bulk.copyEntries(0x9000, 0xA000, 512, 8);           // zeros onto zeros: no frame made
        assertEquals(touched, bulk.framesTouched());
    }

    @Test
    void fromAndOntoAnImagesFramesInBulk() {
        PhysicalMemory.Image image = source().image();
        PhysicalMemory m = new PhysicalMemory(image);
        Recorder idle = new Recorder();
        idle.idle = true;
        m.setAccessHook(idle);
        m.copyEntries(0x1000, 0x1800, 16, 8);               // within one frame only the image had
        assertEquals(0x1000_0003L, m.loadLong(0x1800));
        assertEquals(0, m.loadLong(0x1808));
        assertEquals(0x1000_0003L + 3, m.loadLong(0x1818));
        assertEquals(0x1000_0003L + 258, new PhysicalMemory(image).loadLong(0x1810), "the image is not written");
    }

    @Test
    void aWriteGuardSeesEveryStore() {
        PhysicalMemory m = source();
        Recorder idle = new Recorder();
        idle.idle = true;
        m.setAccessHook(idle);
        List<Long> guarded = new ArrayList<>();
        m.setWriteGuard(pa -> guarded.add(pa) && pa != 0x5808);
        m.copyEntries(0x1800, 0x5800, 3, 8);
        assertEquals(List.of(0x5800L, 0x5808L, 0x5810L), guarded);
        assertEquals(0, m.loadLong(0x5808), "the rejected store did not happen");
        assertEquals(m.loadLong(0x1810), m.loadLong(0x5810));
    }

    @Test
    void fourByteEntriesAndRangesOutsideMemoryTakeTheCheckedPath() {
        PhysicalMemory m = source();
        Recorder idle = new Recorder();
        idle.idle = true;
        m.setAccessHook(idle);
        m.copyEntries(0x1000, 0x6004, 3, 4);
        assertEquals(m.loadInt(0x1000), m.loadInt(0x6004));
        assertEquals(m.loadInt(0x1004), m.loadInt(0x6008));
        assertThrows(IllegalArgumentException.class, () -> m.copyEntries(0x1000, (1 << 20) - 8, 2, 8));
    }
}

package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/**
 * Simulated CPUs may run on several Java threads (PhysicalMemory's class comment). A frame's
 * array and its chunk are made on first write; threads that first-write different frames of one
 * chunk, or one frame, at the same moment must not lose a write to an array that another thread's
 * chunk or frame then replaces.
 */
class PhysicalMemoryThreadsTest {

    private static final int THREADS = 2;         // one per core of the CI machine: the threads spin
    private static final long CHUNK_BYTES = 2L << 20;    // 512 frames: PhysicalMemory's chunk

    /** Each thread writes its own frame in every chunk, all threads in step, so they race to make each chunk. */
    @Test
    void threadsFirstWritingFramesOfOneChunkLoseNothing() throws Exception {
        for (int round = 0; round < 8; round++) {
            long size = 256L << 20;
            int chunks = (int) (size / CHUNK_BYTES);
            PhysicalMemory mem = new PhysicalMemory(size);
            runInStep(chunks, (t, c) -> mem.storeEntry(c * CHUNK_BYTES + t * 4096L + 8L * t, 8, marker(t, c)));
            for (int c = 0; c < chunks; c++) {
                for (int t = 0; t < THREADS; t++) {
                    assertEquals(marker(t, c), mem.loadEntry(c * CHUNK_BYTES + t * 4096L + 8L * t, 8),
                            "round " + round + ": thread " + t + "'s write to chunk " + c);
                }
            }
            assertEquals((long) THREADS * chunks, mem.framesTouched(), "one array per frame written");
        }
    }

    /** All threads first-write different words of the same untouched frame: one array, every word there. */
    @Test
    void threadsFirstWritingOneFrameLoseNothing() throws Exception {
        long size = 32L << 20;
        int frames = (int) (size / 4096);
        PhysicalMemory mem = new PhysicalMemory(size);
        runInStep(frames, (t, f) -> mem.storeEntry(f * 4096L + 8L * t, 8, marker(t, f)));
        for (int f = 0; f < frames; f++) {
            for (int t = 0; t < THREADS; t++) {
                assertEquals(marker(t, f), mem.loadEntry(f * 4096L + 8L * t, 8), "thread " + t + " in frame " + f);
            }
        }
        assertEquals(frames, mem.framesTouched());
    }

    private static long marker(int thread, int i) {
        return 0x5a00_0000_0000L | ((long) i << 8) | thread;
    }

    private interface Step {
        void run(int thread, int i);
    }

    /** THREADS threads run step(t, i) for i = 0..n-1, none more than one i ahead of the slowest. */
    private static void runInStep(int n, Step step) throws Exception {
        AtomicInteger[] done = new AtomicInteger[THREADS];
        for (int t = 0; t < THREADS; t++) {
            done[t] = new AtomicInteger();
        }
        Thread[] th = new Thread[THREADS];
        Throwable[] failure = new Throwable[1];
        for (int t = 0; t < THREADS; t++) {
            int me = t;
            th[t] = new Thread(() -> {
                try {
                    for (int i = 0; i < n; i++) {
                        for (AtomicInteger d : done) {
                            for (int spins = 0; d.get() < i; spins++) {
                                if (spins < 1000) {
                                    Thread.onSpinWait();
                                } else {
                                    Thread.yield();          // the other thread is not running: let it
                                }
                            }
                        }
                        step.run(me, i);
                        done[me].set(i + 1);
                    }
                } catch (Throwable e) {
                    synchronized (failure) {
                        failure[0] = e;
                    }
                    done[me].set(Integer.MAX_VALUE);
                }
            });
            th[t].start();
        }
        for (Thread x : th) {
            x.join();
        }
        if (failure[0] != null) {
            throw new AssertionError(failure[0]);
        }
    }
}

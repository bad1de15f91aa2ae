package ptlab.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class PipelinedSinkTest {

    record Call(int kind, long address, int size, String thread) {
    }

    static final class Recorder implements AccessSink {
        final List<Call> calls = new ArrayList<>();
        final long failAt;

        Recorder(long failAt) {
            this.failAt = failAt;
        }

        @Override
        public void access(int kind, long address, int size) {
            if (calls.size() == failAt) {
                throw new IllegalArgumentException("out of simulated RAM at call " + failAt);
            }
            calls.add(new Call(kind, address, size, Thread.currentThread().getName()));
        }
    }

    @Test
    void theTargetSeesEveryCallInOrderOnItsOwnThread() {
        SplittableRandom rnd = new SplittableRandom(5);
        int n = PipelinedSink.BATCH * 5 + 123;           // full batches, more than the ring holds, and a tail
        List<Call> sent = new ArrayList<>();
        Recorder r = new Recorder(-1);
        try (PipelinedSink p = new PipelinedSink(r)) {
            for (int i = 0; i < n; i++) {
                Call c = new Call(rnd.nextInt(3), rnd.nextLong(), 1 + rnd.nextInt(TraceReader.MAX_ACCESS_SIZE), "");
                sent.add(c);
                p.access(c.kind(), c.address(), c.size());
            }
        }
        assertEquals(n, r.calls.size());
        for (int i = 0; i < n; i++) {
            Call got = r.calls.get(i);
            assertEquals(sent.get(i), new Call(got.kind(), got.address(), got.size(), ""), "call " + i);
            assertEquals("ptlab-replay", got.thread());
        }
    }

    @Test
    void aFailureOfTheTargetReachesTheReader() {
        Recorder r = new Recorder(PipelinedSink.BATCH + 7);
        PipelinedSink p = new PipelinedSink(r);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            for (int i = 0; i < PipelinedSink.BATCH * 20; i++) {
                p.access(TraceReader.READ, i * 4096L, 8);
            }
        });
        assertTrue(e.getMessage().contains("out of simulated RAM"), e.getMessage());
        assertEquals(PipelinedSink.BATCH + 7, r.calls.size());   // nothing delivered after the failure
        assertSame(e, assertThrows(IllegalArgumentException.class, p::finish));
    }

    @Test
    void aFailureInTheLastPartialBatchIsThrownByFinish() {
        Recorder r = new Recorder(3);
        PipelinedSink p = new PipelinedSink(r);
        for (int i = 0; i < 10; i++) {
            p.access(TraceReader.WRITE, i, 1);
        }
        assertThrows(IllegalArgumentException.class, p::finish);
        assertEquals(3, r.calls.size());
    }
}

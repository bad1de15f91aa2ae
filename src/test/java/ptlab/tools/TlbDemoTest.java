package ptlab.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.PageFaultError;
import ptlab.hw.PagingMode;

// A stuck engine (e.g. a Java monitor held across a CPU switch) fails the test instead of hanging the build.
@org.junit.jupiter.api.Timeout(value = 120, unit = java.util.concurrent.TimeUnit.SECONDS,
        threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class TlbDemoTest {

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void missHitStaleHitThenFault(PagingMode mode) {
        List<TlbDemo.Step> s = TlbDemo.run(mode);
        assertEquals(4, s.size());
        assertEquals(1, s.get(0).misses());
        assertEquals(mode.levels() - (mode.isPae() ? 1 : 0), s.get(0).walkRefs(), "full walk, PDPTEs from registers");
        assertEquals(1, s.get(1).hits());
        assertFalse(s.get(2).fault(), "stale TLB entry used");
        assertEquals(s.get(0).pa(), s.get(2).pa());
        assertTrue(s.get(3).fault());
        assertEquals(PageFaultError.US, s.get(3).errorCode());
    }
}

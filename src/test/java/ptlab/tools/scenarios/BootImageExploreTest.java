package ptlab.tools.scenarios;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import ptlab.engine.Explorer;
import ptlab.engine.KernelBridge;
import ptlab.engine.KernelImages;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.hw.PagingMode;
import ptlab.kernel.KernelVariant;

/**
 * The kernel-level scenarios restore each schedule's kernel from a boot image
 * ({@link Scenario#machines}, {@link KernelImages}); a search over them must find exactly what
 * the same search over freshly booted kernels finds: the same steps, check counts, violation
 * and shrunk schedule.
 */
class BootImageExploreTest {

    /** {@code base} without its machine supplier: every machine boots its kernel afresh. */
    private record FreshBoots(Scenario base) implements Scenario {
        @Override
        public String name() {
            return base.name();
        }

        @Override
        public String description() {
            return base.description();
        }

        @Override
        public List<Variant> variants() {
            return base.variants();
        }

        @Override
        public Machine build(String variant) {
            return base.build(variant);
        }

        @Override
        public Machine build(String variant, PagingMode mode) {
            return base.build(variant, mode);
        }

        @Override
        public List<PagingMode> modes(String variant) {
            return base.modes(variant);
        }
    }

    static Stream<Arguments> searches() {
        List<Arguments> out = new ArrayList<>();
        for (Scenario sc : List.of(new TlbStaleAfterUnmap(), new FreePgtablesVsWalk(), new PteClearVsDirty())) {
            for (Scenario.Variant v : sc.variants()) {
                if (!v.name().startsWith("munmap-") && !v.name().startsWith("mprotect-")) {
                    continue;   // tables written by hand: no kernel, no image
                }
                for (PagingMode mode : List.of(PagingMode.X86_64, PagingMode.X86_32_PAE)) {
                    for (String strategy : List.of("random", "pct")) {
                        out.add(Arguments.of(sc, v.name(), mode, strategy));
                    }
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} {2} {3}")
    @MethodSource("searches")
    void findsWhatFreshBootsFind(Scenario sc, String variant, PagingMode mode, String strategy) {
        Explorer.Settings s = Explorer.Settings.of(strategy, 11, 300, 2);
        Explorer.Summary restored = Explorer.explore(Scenario.inMode(sc, variant, mode), variant, s, () -> false, n -> { });
        Explorer.Summary fresh = Explorer.explore(Scenario.inMode(new FreshBoots(sc), variant, mode), variant, s,
                () -> false, n -> { });
        assertEquals(fresh.schedules(), restored.schedules());
        assertEquals(fresh.steps(), restored.steps());
        assertArrayEquals(fresh.checks(), restored.checks());
        assertArrayEquals(fresh.checkedSchedules(), restored.checkedSchedules());
        assertEquals(fresh.violation() == null ? null : fresh.violation().describe(),
                restored.violation() == null ? null : restored.violation().describe());
        if (fresh.schedule() != null) {
            assertArrayEquals(fresh.schedule().choices(), restored.schedule().choices(), "shrunk schedule");
        }
        assertTrue(restored.checks(6) > 0, "the leak check ran on the restored kernels");
        if (!sc.variant(variant).broken()) {
            assertEquals(null, restored.violation());
        }
    }

    @Test
    void workerThreadsWithTheirOwnImagesFindTheSame() {
        Scenario sc = new TlbStaleAfterUnmap();
        Explorer.Settings s = Explorer.Settings.of("random", 3, 2000, 2);
        Explorer.Summary one = Explorer.explore(sc, "munmap-local-flush", s, 1, () -> false, n -> { });
        Explorer.Summary two = Explorer.explore(sc, "munmap-local-flush", s, 2, () -> false, n -> { });
        Explorer.Summary fresh = Explorer.explore(new FreshBoots(sc), "munmap-local-flush", s, 2, () -> false, n -> { });
        for (Explorer.Summary x : List.of(two, fresh)) {
            assertEquals(one.schedules(), x.schedules());
            assertEquals(one.steps(), x.steps());
            assertArrayEquals(one.checks(), x.checks());
            assertEquals(one.violation() == null ? null : one.violation().describe(),
                    x.violation() == null ? null : x.violation().describe());
        }
    }

    @Test
    void oneImagePerModeConfigurationAndVariant() {
        KernelImages images = new KernelImages();
        KernelBridge.Booted a = images.boot(PagingMode.X86_64, KernelKit.CONFIG, KernelVariant.CORRECT,
                new ptlab.check.Invariants());
        KernelBridge.Booted b = images.boot(PagingMode.X86_64, KernelKit.CONFIG, KernelVariant.CORRECT,
                new ptlab.check.Invariants());
        assertEquals(1, images.restores());
        assertNotSame(a.kernel(), b.kernel());
        assertNotSame(a.kernel().memory(), b.kernel().memory());
        assertSame(b.kernel(), b.bridge().kernel());
        assertSame(b.machine(), b.bridge().machine());
        assertEquals(a.kernel().memory().contentHash(), b.kernel().memory().contentHash());
        images.boot(PagingMode.X86_64, KernelKit.CONFIG, KernelVariant.of(KernelVariant.Bug.LOCAL_FLUSH_ONLY),
                new ptlab.check.Invariants());
        assertEquals(1, images.restores(), "another variant boots (and makes its own image)");
        KernelBridge.Booted c = images.boot(PagingMode.X86_64, KernelKit.CONFIG,
                KernelVariant.of(KernelVariant.Bug.LOCAL_FLUSH_ONLY), new ptlab.check.Invariants());
        assertEquals(2, images.restores());
        assertTrue(c.kernel().variant().has(KernelVariant.Bug.LOCAL_FLUSH_ONLY));
    }
}

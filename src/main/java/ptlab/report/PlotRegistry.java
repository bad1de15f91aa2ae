package ptlab.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The plots of each study, by experiment name: the one place a new study registers the
 * figures its JSON rows can draw. A study without an entry still gets its table, and the PNG
 * files its own {@code --out} wrote next to its JSON.
 */
public final class PlotRegistry {

    /** Draws a study's figures from its JSON alone (so merged shards plot exactly as one run). */
    @FunctionalInterface
    public interface StudyPlots {
        List<Figure> figures(StudyResult result) throws IOException;
    }

    private final Map<String, StudyPlots> byExperiment = new LinkedHashMap<>();

    /** The studies ptlab has: add a line here for a new one. */
    public static PlotRegistry standard() {
        PlotRegistry r = new PlotRegistry();
        r.register("vmalloc-sync", VmallocSyncPlots::figures);
        return r;
    }

    public PlotRegistry register(String experiment, StudyPlots plots) {
        byExperiment.put(experiment, plots);
        return this;
    }

    public boolean knows(String experiment) {
        return byExperiment.containsKey(experiment);
    }

    /** The registered plots of {@code r}, or else the PNGs found in its directory. */
    public List<Figure> figures(StudyResult r) throws IOException {
        StudyPlots p = byExperiment.get(r.experiment());
        return p != null ? p.figures(r) : pngsBeside(r.file());
    }

    private static List<Figure> pngsBeside(Path json) throws IOException {
        List<Figure> out = new ArrayList<>();
        Path dir = json.toAbsolutePath().getParent();
        if (dir == null) {
            return out;
        }
        try (Stream<Path> s = Files.list(dir)) {
            for (Path png : s.filter(p -> p.getFileName().toString().endsWith(".png")).sorted().toList()) {
                String name = png.getFileName().toString();
                out.add(new Figure(name, name.substring(0, name.length() - 4), Files.readAllBytes(png)));
            }
        }
        return out;
    }
}

package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;

/**
 * The cluster examples under {@code deploy/} cannot rot: every ptlab command line in them
 * parses with the real command line, and each Indexed Job's {@code completions} (each Slurm
 * array's size) is the N its {@code --shard} splits into.
 */
class DeployExamplesTest {

    private static final Path DEPLOY = Path.of("deploy");

    /**
     * The ptlab command lines of a file: in YAML the folded {@code >-} blocks (the shell
     * scripts of the containers), in a batch script its lines with continuations joined.
     */
    static List<List<String>> commands(Path f) throws IOException {
        List<String> scripts = new ArrayList<>();
        String[] lines = Files.readString(f).replaceAll("\\\\\n\\s*", " ").split("\n");
        if (f.toString().endsWith(".yaml")) {
            for (int i = 0; i < lines.length; i++) {
                if (lines[i].stripTrailing().endsWith(">-")) {
                    int indent = lines[i].indexOf('-');
                    StringBuilder sb = new StringBuilder();
                    for (i++; i < lines.length && (lines[i].length() - lines[i].stripLeading().length()) > indent; i++) {
                        sb.append(lines[i].strip()).append(' ');
                    }
                    scripts.add(sb.toString());
                    i--;
                }
            }
        } else {
            for (String l : lines) {
                if (!l.strip().startsWith("#")) {
                    scripts.add(l);
                }
            }
        }
        List<List<String>> out = new ArrayList<>();
        Pattern p = Pattern.compile("(?:^|[;&|]\\s*)(?:ptlab|\\$PTLAB)\\s+([^;&>]+)");
        for (String script : scripts) {
            Matcher m = p.matcher(script.strip());
            while (m.find()) {
                String args = m.group(1).replace("\"", "").replace("$RESULTS", "/results")
                        .replace("$JOB_COMPLETION_INDEX", "0").replace("$SLURM_ARRAY_TASK_ID", "0").strip();
                out.add(List.of(args.split("\\s+")));
            }
        }
        return out;
    }

    @Test
    void everyCommandLineParses() throws IOException {
        int n = 0;
        for (Path f : List.of(DEPLOY.resolve("kubernetes/sweep-job.yaml"), DEPLOY.resolve("kubernetes/merge-job.yaml"),
                DEPLOY.resolve("kubernetes/explore-job.yaml"), DEPLOY.resolve("slurm/sweep.sbatch"),
                DEPLOY.resolve("slurm/merge.sbatch"))) {
            List<List<String>> cmds = commands(f);
            assertFalse(cmds.isEmpty(), f + " has no ptlab command");
            for (List<String> c : cmds) {
                CommandLine cl = Ptlab.commandLine();
                cl.parseArgs(c.toArray(String[]::new));   // throws on an unknown option or a bad value
                n++;
            }
        }
        assertEquals(7, n, "sweep, merge + report, explore; slurm sweep, merge + report");
    }

    @Test
    void indexedJobsSplitIntoTheirCompletions() throws IOException {
        for (String job : List.of("sweep-job.yaml", "explore-job.yaml")) {
            Path f = DEPLOY.resolve("kubernetes").resolve(job);
            String yaml = Files.readString(f);
            assertTrue(yaml.contains("completionMode: Indexed"), job);
            Matcher c = Pattern.compile("completions: (\\d+)").matcher(yaml);
            assertTrue(c.find(), job);
            String shard = String.join(" ", commands(f).get(0));
            assertTrue(shard.contains("--shard env/" + c.group(1) + " "), job + ": " + shard);
        }
        String sbatch = Files.readString(DEPLOY.resolve("slurm/sweep.sbatch"));
        assertTrue(sbatch.contains("#SBATCH --array=0-7"));
        assertTrue(String.join(" ", commands(DEPLOY.resolve("slurm/sweep.sbatch")).get(0)).contains("--shard env "),
                "the array's size is SLURM_ARRAY_TASK_COUNT");
    }

    @Test
    void theImageIsBuiltFromTheShadedJarOnAJdk21Base() throws IOException {
        String docker = Files.readString(DEPLOY.resolve("Dockerfile"));
        assertTrue(docker.contains("FROM eclipse-temurin:21-jre"));
        assertTrue(docker.contains("mvn -B -q -Pshaded package -DskipTests"));
        assertTrue(Files.readString(Path.of("pom.xml")).contains("<finalName>ptlab-all</finalName>"));
    }
}

package dev.beckon.bench;

import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.time.Duration;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;

/**
 * Runs one of the peer's applications until SIGTERM. Both speak the
 * benchmark children's protocol (bench.Child): "ready &lt;unix ns&gt;" on stdout
 * once the application is RUNNING with every input partition assigned and
 * restored, and exit status 0 after a clean close.
 *
 * <pre>
 * java -cp CP dev.beckon.bench.Launch cart|counter key=value...
 * </pre>
 *
 * Keys: brokers, app (application.id), input, output, state (state.dir),
 * partitions, threads, and for the cart hold.ms, punctuate.ms, max.resets.
 */
public final class Launch {
    private Launch() {}

    public static void main(String[] argv) throws Exception {
        if (argv.length < 1) {
            System.err.println("usage: Launch cart|counter key=value...");
            System.exit(2);
        }
        Map<String, String> a = new HashMap<>();
        for (int i = 1; i < argv.length; i++) {
            int eq = argv[i].indexOf('=');
            if (eq < 0) {
                System.err.println("argument without '=': " + argv[i]);
                System.exit(2);
            }
            a.put(argv[i].substring(0, eq), argv[i].substring(eq + 1));
        }
        Topology topology;
        switch (argv[0]) {
            case "cart":
                topology = CartReminders.topology(need(a, "input"), need(a, "output"),
                        Long.parseLong(a.getOrDefault("hold.ms", "3600000")),
                        Long.parseLong(a.getOrDefault("punctuate.ms", "100")),
                        Integer.parseInt(a.getOrDefault("max.resets", "1000")));
                break;
            case "counter":
                topology = Counter.topology(need(a, "input"), need(a, "output"));
                break;
            default:
                System.err.println("unknown application " + argv[0]);
                System.exit(2);
                return;
        }
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, need(a, "app"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, need(a, "brokers"));
        p.put(StreamsConfig.STATE_DIR_CONFIG, need(a, "state"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(a.getOrDefault("threads", "1")));
        // The test broker is a single node: internal topics get one replica.
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        // The events are pre-produced before the application starts.
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        // Everything else (commit.interval.ms 100 under exactly-once, the
        // 10 MB record cache, RocksDB's defaults, producer linger) is Kafka
        // Streams' default: what an application gets unless tuned.
        for (Map.Entry<String, String> e : a.entrySet()) {
            if (e.getKey().startsWith("streams.")) {
                p.put(e.getKey().substring("streams.".length()), e.getValue());
            }
        }
        int partitions = Integer.parseInt(a.getOrDefault("partitions", "6"));

        KafkaStreams streams = new KafkaStreams(topology, p);
        CountDownLatch stopped = new CountDownLatch(1);
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                stopped.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            System.err.println("kstreams: stream thread failed: " + e);
            e.printStackTrace();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        // SIGTERM closes the application cleanly (the open transaction
        // aborted, the state flushed) and exits 0: the JVM's default would
        // exit 143, which the benchmark reads as a failed child.
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), sig -> {
            boolean clean = streams.close(Duration.ofSeconds(30));
            System.exit(clean && streams.state() != KafkaStreams.State.ERROR ? 0 : 1);
        });
        streams.start();
        // Ready: RUNNING with all input partitions assigned to this
        // instance's threads (a rebalance may pass through RUNNING before
        // the last thread has joined).
        while (stopped.getCount() > 0) {
            if (streams.state() == KafkaStreams.State.RUNNING && assigned(streams) == partitions) {
                System.out.println("ready " + (System.currentTimeMillis() * 1_000_000L));
                System.out.flush();
                break;
            }
            Thread.sleep(2);
        }
        stopped.await();
        if (streams.state() == KafkaStreams.State.ERROR) {
            System.exit(1);
        }
    }

    private static int assigned(KafkaStreams streams) {
        return streams.metadataForLocalThreads().stream().mapToInt(t -> t.activeTasks().size()).sum();
    }

    private static String need(Map<String, String> a, String k) {
        String v = a.get(k);
        if (v == null || v.isEmpty()) {
            System.err.println("missing " + k + "=...");
            System.exit(2);
        }
        return v;
    }
}

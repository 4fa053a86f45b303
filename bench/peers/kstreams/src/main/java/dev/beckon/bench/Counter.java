package dev.beckon.bench;

import java.nio.ByteBuffer;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The runtime's counter workload (bench.CounterProcessor) in Kafka Streams:
 * a per-user 8-byte big-endian counter in a RocksDB store with its
 * changelog, and one output per event: the event's first 16 bytes (send
 * time and sequence number) and the user's new count, exactly-once.
 */
final class Counter {
    private Counter() {}

    static Topology topology(String input, String output) {
        Topology t = new Topology();
        t.addSource("events", Serdes.Bytes().deserializer(), Serdes.ByteArray().deserializer(), input);
        t.addProcessor("count", Count::new, "events");
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("counts"), Serdes.Bytes(), Serdes.Long()), "count");
        t.addSink("out", output, Serdes.Bytes().serializer(), Serdes.ByteArray().serializer(), "count");
        return t;
    }

    static final class Count implements Processor<org.apache.kafka.common.utils.Bytes, byte[], org.apache.kafka.common.utils.Bytes, byte[]> {
        private ProcessorContext<org.apache.kafka.common.utils.Bytes, byte[]> ctx;
        private KeyValueStore<org.apache.kafka.common.utils.Bytes, Long> counts;

        @Override
        public void init(ProcessorContext<org.apache.kafka.common.utils.Bytes, byte[]> ctx) {
            this.ctx = ctx;
            this.counts = ctx.getStateStore("counts");
        }

        @Override
        public void process(Record<org.apache.kafka.common.utils.Bytes, byte[]> rec) {
            Long n = counts.get(rec.key());
            long c = (n == null ? 0 : n) + 1;
            counts.put(rec.key(), c);
            byte[] ev = rec.value();
            ByteBuffer out = ByteBuffer.allocate(24);
            out.put(ev, 0, Math.min(16, ev.length));
            out.position(16);
            out.putLong(c);
            ctx.forward(rec.withValue(out.array()));
        }
    }
}

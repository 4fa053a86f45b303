package codec

// SubjectStrategy names the registry subject a record's schema is registered
// under, from the topic it is produced to and the record's full Avro name.
// Beckon's keys are plain strings, so only value subjects exist.
type SubjectStrategy func(topic, recordName string) string

// TopicNameStrategy is "<topic>-value", Confluent's default: one schema
// lineage per topic.
func TopicNameStrategy(topic, _ string) string { return topic + "-value" }

// RecordNameStrategy is "<record full name>": one lineage per record type,
// shared by every topic carrying it (e.g. all send.<channel> topics).
func RecordNameStrategy(_, recordName string) string { return recordName }

// TopicRecordNameStrategy is "<topic>-<record full name>".
func TopicRecordNameStrategy(topic, recordName string) string {
	return topic + "-" + recordName
}

package codec

import (
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
)

func lookupRecordToNative(l *records.LookupRecord) (map[string]any, error) {
	attrs, err := jsonObject(schemas.LookupRecord, "attributes", l.Attributes)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"table":      l.Table,
		"id":         l.ID,
		"attributes": attrs,
		"updated_at": millis(l.UpdatedAt),
	}, nil
}

func lookupRecordFromNative(f *fields, l *records.LookupRecord) {
	l.Table = f.str("table", true)
	l.ID = f.str("id", true)
	l.Attributes = f.json("attributes")
	l.UpdatedAt = f.time("updated_at", true)
}

package codec

import (
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
)

func factToNative(x *records.Fact) (map[string]any, error) {
	value, err := jsonValue(schemas.Fact, "value", x.Value)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"user_id":    x.UserID,
		"name":       x.Name,
		"value":      value,
		"updated_at": millis(x.UpdatedAt),
	}, nil
}

func factFromNative(f *fields, x *records.Fact) {
	x.UserID = f.str("user_id", true)
	x.Name = f.str("name", true)
	x.Value = f.json("value")
	x.UpdatedAt = f.time("updated_at", true)
}

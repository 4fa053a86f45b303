package schemas

import (
	"embed"
	"fmt"
	"io/fs"
)

// FS holds every schema as <file>.avsc at its root, one top-level record per
// file, each self-contained (nested types are defined inline, so no file
// references another and each can be registered with a schema registry alone).
//
//go:embed *.avsc
var FS embed.FS

// JourneySchema is journey.schema.json, the JSON Schema of journey
// definitions, for editors (the web console serves it).
//
//go:embed journey.schema.json
var JourneySchema []byte

// Full names of the top-level records, in the namespace dev.beckon.
const (
	Event             = "dev.beckon.Event"
	Profile           = "dev.beckon.Profile"
	Fact              = "dev.beckon.Fact"
	LookupRecord      = "dev.beckon.LookupRecord"
	SendCommand       = "dev.beckon.SendCommand"
	Receipt           = "dev.beckon.Receipt"
	Activity          = "dev.beckon.Activity"
	Handoff           = "dev.beckon.Handoff"
	JourneyDefinition = "dev.beckon.JourneyDefinition"
	ForgetRequest     = "dev.beckon.ForgetRequest"
)

// files maps each top-level record's full name to the file that defines it.
var files = map[string]string{
	Event:             "event.avsc",
	Profile:           "profile.avsc",
	Fact:              "fact.avsc",
	LookupRecord:      "lookup_record.avsc",
	SendCommand:       "send_command.avsc",
	Receipt:           "receipt.avsc",
	Activity:          "activity.avsc",
	Handoff:           "handoff.avsc",
	JourneyDefinition: "journey_definition.avsc",
	ForgetRequest:     "forget_request.avsc",
}

// Names returns the full names of all top-level records, in a stable order.
func Names() []string {
	return []string{Event, Profile, Fact, LookupRecord, SendCommand, Receipt, Activity, Handoff, JourneyDefinition, ForgetRequest}
}

// Schema returns the schema text (JSON) of the top-level record with the
// given full name, e.g. Schema(schemas.Event).
func Schema(fullName string) (string, error) {
	file, ok := files[fullName]
	if !ok {
		return "", fmt.Errorf("schemas: no schema for record %q", fullName)
	}
	b, err := fs.ReadFile(FS, file)
	if err != nil {
		return "", fmt.Errorf("schemas: read %s: %w", file, err)
	}
	return string(b), nil
}

package app

// edgeletVersion is set at link time: -X github.com/edgectl/edgectl/pkg/edgelet/app.edgeletVersion=...
var edgeletVersion = "dev" //nolint:gochecknoglobals // link-time constant

// Argo CD's health-script evaluation as a command (see main.go), built by scripts/go-tools. gopher-lua and
// gopher-json are the versions Argo CD's go.mod requires (v3.6.1); move them together with a newer Argo CD.
module sagemaker-operator/tools/argocd-health

go 1.24

require (
	github.com/yuin/gopher-lua v1.1.2
	layeh.com/gopher-json v0.0.0-20190114024228-97fed8db8427
)

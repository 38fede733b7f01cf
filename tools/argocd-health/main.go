// Command argocd-health evaluates an Argo CD resource health script the way the Argo CD application controller
// does: with gopher-lua (the Lua VM Argo CD embeds, same version as Argo CD's go.mod), the same libraries, the
// same `obj` global, the same one-second limit and the same reading of the returned table. The chart tests
// (tests/chart/test_argocd_health.py) run deploy/argocd's health check with it, next to C Lua 5.1.
//
// Usage:
//
//	argocd-health [-open-libs] SCRIPT [OBJECT.json]
//
// OBJECT.json (or standard input when it is missing or "-") is the resource as the API server returns it. The
// result is printed as {"status": ..., "message": ...}, or null when the script returns nil (Argo CD then has no
// health for the resource). A script error exits with status 1 and the error on standard error.
//
// What follows Argo CD v3.6's util/lua/lua.go (runLuaWithResourceActionParameters, ExecuteHealthLua,
// decodeValue) and util/lua/oslib_safe.go; keep it in step when tools/argocd-health/go.mod moves to the
// gopher-lua version of a newer Argo CD.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

// scriptTimeout is the limit Argo CD puts on every health script (a context on the LState).
const scriptTimeout = time.Second

// healthCodes are the statuses Argo CD accepts from a script (gitops-engine's pkg/health HealthStatusCode);
// anything else becomes Unknown with invalidHealthStatus.
var healthCodes = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

const invalidHealthStatus = "Lua returned an invalid health status"

// healthStatus is the part of gitops-engine's HealthStatus a script sets (its JSON field names).
type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	openLibs := flag.Bool("open-libs", false,
		"open every Lua standard library, as Argo CD does for its built-in scripts and for a customization with "+
			"resource.customizations.useOpenLibs.<group>_<kind>: \"true\" (argocd-cm); off by default, as for ours")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: argocd-health [-open-libs] SCRIPT [OBJECT.json]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 || flag.NArg() > 2 {
		flag.Usage()
		os.Exit(2)
	}
	result, err := run(flag.Arg(0), flag.Arg(1), *openLibs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(1)
	}
	out, err := json.Marshal(result)
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}

// run reads the script and the object, evaluates the script and returns its health (nil for none).
func run(scriptPath, objectPath string, openLibs bool) (*healthStatus, error) {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return nil, err
	}
	var input io.Reader = os.Stdin
	if objectPath != "" && objectPath != "-" {
		file, err := os.Open(objectPath)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		input = file
	}
	obj, err := readObject(input)
	if err != nil {
		return nil, fmt.Errorf("reading the object: %w", err)
	}
	return evaluate(string(script), obj, openLibs)
}

// readObject decodes a JSON object the way Kubernetes' unstructured decoding does: whole numbers become int64,
// the others float64. Argo CD's controller hands the script such an object.
func readObject(input io.Reader) (map[string]any, error) {
	decoder := json.NewDecoder(input)
	decoder.UseNumber()
	var raw any
	if err := decoder.Decode(&raw); err != nil {
		return nil, err
	}
	obj, ok := normalizeNumbers(raw).(map[string]any)
	if !ok {
		return nil, errors.New("the object is not a JSON object")
	}
	return obj, nil
}

func normalizeNumbers(value any) any {
	switch v := value.(type) {
	case json.Number:
		if whole, err := v.Int64(); err == nil {
			return whole
		}
		if real, err := v.Float64(); err == nil {
			return real
		}
		return v.String()
	case []any:
		for i := range v {
			v[i] = normalizeNumbers(v[i])
		}
	case map[string]any:
		for key := range v {
			v[key] = normalizeNumbers(v[key])
		}
	}
	return value
}

// evaluate runs script with obj as the global `obj` in a VM prepared as Argo CD prepares it.
func evaluate(script string, obj map[string]any, openLibs bool) (*healthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	defer l.Close()
	// Argo CD opens these whatever openLibs says: package, base, table and its reduced os library. There is no
	// string or math library unless openLibs is set, so a script calling string.format fails in Argo CD while
	// it works in a stock Lua interpreter; that difference is why this program exists.
	safeOs := safeOsFunctions()
	libraries := []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		// Argo CD's OpenSafeOs registers its functions under the table library's name, which is loaded by then,
		// so gopher-lua adds nothing: there is no global `os`, and only require("os") gives os.time/os.date.
		{lua.OsLibName, func(l *lua.LState) int {
			l.Push(l.RegisterModule(lua.TabLibName, safeOs))
			return 1
		}},
	}
	for _, library := range libraries {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(library.open), NRet: 0, Protect: true},
			lua.LString(library.name)); err != nil {
			return nil, fmt.Errorf("opening %s: %w", library.name, err)
		}
	}
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int {
		l.Push(l.SetFuncs(l.NewTable(), safeOs))
		return 1
	})

	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	l.SetContext(ctx)
	// Health checks get no action parameters, but the global exists (an empty table), as in Argo CD.
	l.SetGlobal("actionParams", l.CreateTable(0, 0))
	l.SetGlobal("obj", toLua(l, obj))

	function, err := l.LoadString(script)
	if err != nil {
		return nil, err
	}
	l.Push(function)
	if err := l.PCall(0, lua.MultRet, nil); err != nil {
		// Argo CD drops the Lua stack trace of a run-time error: the message is what a user sees.
		var apiError *lua.ApiError
		if errors.As(err, &apiError) && apiError.Type == lua.ApiErrorRun {
			apiError.StackTrace = ""
		}
		return nil, err
	}
	return readHealth(l.Get(-1))
}

// safeOsFunctions are os.time and os.date, the only os functions Argo CD gives a script (its oslib_safe.go
// carries copies of gopher-lua's own two); here they are gopher-lua's, taken from a scratch state.
func safeOsFunctions() map[string]lua.LGFunction {
	scratch := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer scratch.Close()
	lua.OpenOs(scratch)
	module := scratch.GetGlobal(lua.OsLibName).(*lua.LTable)
	functions := map[string]lua.LGFunction{}
	for _, name := range []string{"time", "date"} {
		functions[name] = module.RawGetString(name).(*lua.LFunction).GFunction
	}
	return functions
}

// toLua converts a decoded JSON value into Lua values the way Argo CD's decodeValue does: numbers become Lua
// numbers, JSON arrays become sequences (a null item is skipped by LTable.Append), objects become hash tables.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		table := l.CreateTable(len(v), 0)
		for _, item := range v {
			table.Append(toLua(l, item))
		}
		return table
	case map[string]any:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetH(lua.LString(key), toLua(l, item))
		}
		return table
	}
	return lua.LNil
}

// readHealth reads the script's result as Argo CD does: a table encoded to JSON with gopher-json and decoded
// into a health status; nil means no health; a status Argo CD does not know becomes Unknown.
func readHealth(value lua.LValue) (*healthStatus, error) {
	switch value.Type() {
	case lua.LTNil:
		return nil, nil
	case lua.LTTable:
	default:
		return nil, fmt.Errorf("expect table output from Lua script, not %s", value.Type())
	}
	encoded, err := luajson.Encode(value)
	if err != nil {
		return nil, err
	}
	status := &healthStatus{}
	if err := json.Unmarshal(encoded, status); err != nil {
		// Argo CD means this for an empty table (gopher-json encodes it as []), but its check takes any type
		// error, for example a number as the message: the resource then gets an empty status, not an error.
		var typeError *json.UnmarshalTypeError
		if errors.As(err, &typeError) {
			return &healthStatus{}, nil
		}
		return nil, err
	}
	if !healthCodes[status.Status] {
		return &healthStatus{Status: "Unknown", Message: invalidHealthStatus}, nil
	}
	return status, nil
}

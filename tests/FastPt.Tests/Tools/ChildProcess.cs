using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;

namespace FastPt.Tests.Tools;

/// <summary>Runs a program with arguments (no shell), capturing standard output and error. The timeout only bounds
/// a failure: the test waits for the process to exit, and kills its whole tree if it never does.</summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();
    private readonly List<Action<string>> _errorLineWatchers = new();

    public ChildProcess(string program, IEnumerable<string> arguments, string workingDirectory)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        CommandLine = program + " " + string.Join(" ", start.ArgumentList);
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            Action<string>[] watchers;
            lock (_error)
            {
                _error.AppendLine(e.Data);
                watchers = _errorLineWatchers.ToArray();
            }
            foreach (Action<string> watcher in watchers) watcher(e.Data);
        };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string CommandLine { get; }

    public int Id => _process.Id;

    public string Output { get { lock (_output) return _output.ToString(); } }

    public string Error { get { lock (_error) return _error.ToString(); } }

    /// <summary>Everything the process wrote, for failure messages.</summary>
    public string Transcript => $"$ {CommandLine}{Environment.NewLine}--- stdout ---{Environment.NewLine}{Output}--- stderr ---{Environment.NewLine}{Error}";

    /// <summary>Waits until a line of standard error satisfies <paramref name="predicate"/> (or the process
    /// exits); true when it did.</summary>
    public bool WaitForErrorLine(Func<string, bool> predicate, TimeSpan bound)
    {
        using var seen = new ManualResetEventSlim();
        lock (_error)
        {
            foreach (string line in _error.ToString().Split('\n'))
                if (predicate(line.TrimEnd('\r'))) return true;
            _errorLineWatchers.Add(line => { if (predicate(line)) seen.Set(); });
        }
        using var exited = new ManualResetEventSlim();
        _process.EnableRaisingEvents = true;
        _process.Exited += (_, _) => exited.Set();
        if (_process.HasExited) exited.Set();
        WaitHandle.WaitAny([seen.WaitHandle, exited.WaitHandle], bound);
        return seen.IsSet;
    }

    /// <summary>Waits for the exit; returns the exit code, or null (after killing the tree) past the bound.</summary>
    public int? WaitForExit(TimeSpan bound)
    {
        if (!_process.WaitForExit(bound))
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            return null;
        }
        _process.WaitForExit();   // drains the asynchronous readers
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

    /// <summary>Runs to completion and returns the exit code (null: killed at the bound) with the transcript.</summary>
    public static (int? ExitCode, string Transcript, string Output) Run(string program, IEnumerable<string> arguments, string workingDirectory, TimeSpan bound)
    {
        using var child = new ChildProcess(program, arguments, workingDirectory);
        int? code = child.WaitForExit(bound);
        return (code, child.Transcript, child.Output);
    }

    /// <summary>The directory holding FastPt.sln.</summary>
    public static string RepositoryRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
            if (File.Exists(Path.Combine(dir, "FastPt.sln"))) return dir;
        throw new InvalidOperationException("repository root (FastPt.sln) not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Whether signal <paramref name="number"/> is ignored by this process (<c>SigIgn</c> of
    /// <c>/proc/self/status</c>, a hex mask with bit n - 1 for signal n; false where there is no such file). A child
    /// inherits an ignored signal, and the .NET runtime keeps a signal ignored at start ignored (a shell's background
    /// job starts with SIGINT ignored, <c>nohup</c> with SIGHUP), so a test that sends one cannot pass there.</summary>
    public static bool SignalIgnored(int number)
    {
        if (!File.Exists("/proc/self/status")) return false;
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (!line.StartsWith("SigIgn:", StringComparison.Ordinal)) continue;
            ulong mask = ulong.Parse(line.AsSpan("SigIgn:".Length).Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            return (mask & (1UL << (number - 1))) != 0;
        }
        return false;
    }

    /// <summary>The fastpt command built beside the tests (the app host of FastPt.Cli).</summary>
    public static string FastPtCommand() =>
        Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "FastPt.Cli.exe" : "FastPt.Cli");
}

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;

namespace FastPt.Tests.Tools;

/// <summary>The dotnet-trace and dotnet-counters of the repository's tool manifest (.config/dotnet-tools.json),
/// restored once per test run with <c>dotnet tool restore</c>, as CI does.</summary>
internal static partial class DiagnosticsTools
{
    /// <summary>Failure bound for one tool run (a child that hangs is killed and the test fails with its output).</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    private static readonly Lazy<string> s_restore = new(Restore);

    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>Runs <c>dotnet TOOL ARGS…</c> from the repository (where the manifest is found) to completion.</summary>
    public static (int? ExitCode, string Transcript) Run(string tool, params string[] arguments)
    {
        string root = s_restore.Value;
        (int? code, string transcript, _) = ChildProcess.Run(Dotnet, [tool, .. arguments], root, Bound);
        return (code, transcript);
    }

    private static string Restore()
    {
        string root = ChildProcess.RepositoryRoot();
        if (!File.Exists(Path.Combine(root, ".config", "dotnet-tools.json")))
            throw new InvalidOperationException($"no tool manifest at {root}/.config/dotnet-tools.json");
        (int? code, string transcript, _) = ChildProcess.Run(Dotnet, ["tool", "restore"], root, Bound);
        if (code != 0)
            throw new InvalidOperationException("'dotnet tool restore' failed, so dotnet-trace and dotnet-counters are not available "
                + "(CI runs it in .ci/run; it needs the NuGet feed):" + Environment.NewLine + transcript);
        return root;
    }

    /// <summary>The provider strings the README gives to <c>dotnet-trace collect --providers '…'</c>.</summary>
    public static IReadOnlyList<string> ReadMeProviderStrings()
    {
        string readme = File.ReadAllText(Path.Combine(ChildProcess.RepositoryRoot(), "README.md"));
        return ProvidersArgument().Matches(readme).Select(m => m.Groups[1].Value).ToArray();
    }

    [GeneratedRegex(@"--providers '([^']+)'")]
    private static partial Regex ProvidersArgument();
}

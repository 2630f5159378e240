using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace FastPt.Tests.Tools;

/// <summary>The dotnet-trace and dotnet-counters of the repository's tool manifest (.config/dotnet-tools.json),
/// restored once per test run with <c>dotnet tool restore</c>, as CI does. A test that needs them is skipped, with
/// the restore's output as the reason, only when they cannot be restored (no NuGet feed, say); with
/// <c>FASTPT_REQUIRE_DIAGNOSTICS_TOOLS=1</c> (set by .ci/run) that fails the test instead.</summary>
internal static partial class DiagnosticsTools
{
    /// <summary>Failure bound for one tool run (a child that hangs is killed and the test fails with its output).</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    /// <summary>Set by .ci/run: there a tool that cannot be restored is a failure, never a skip.</summary>
    public const string RequireVariable = "FASTPT_REQUIRE_DIAGNOSTICS_TOOLS";

    private static readonly Lazy<(string Root, string? Failure)> s_restore = new(Restore);

    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>Runs <c>dotnet TOOL ARGS…</c> from the repository (where the manifest is found) to completion.</summary>
    public static (int? ExitCode, string Transcript) Run(string tool, params string[] arguments)
    {
        (string root, string? failure) = s_restore.Value;
        if (failure is not null)
        {
            if (Environment.GetEnvironmentVariable(RequireVariable) == "1") Assert.Fail(failure + Environment.NewLine + $"({RequireVariable}=1: not skipped)");
            Assert.Skip(failure);
        }
        (int? code, string transcript, _) = ChildProcess.Run(Dotnet, [tool, .. arguments], root, Bound);
        return (code, transcript);
    }

    private static (string Root, string? Failure) Restore()
    {
        string root = ChildProcess.RepositoryRoot();
        // A missing manifest is the repository's fault, not the host's: that fails, whatever the environment.
        if (!File.Exists(Path.Combine(root, ".config", "dotnet-tools.json")))
            throw new InvalidOperationException($"no tool manifest at {root}/.config/dotnet-tools.json");
        (int? code, string transcript, _) = ChildProcess.Run(Dotnet, ["tool", "restore"], root, Bound);
        if (code == 0) return (root, null);
        return (root, $"'dotnet tool restore' failed (exit code {code?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none: killed"}), "
            + "so dotnet-trace and dotnet-counters of .config/dotnet-tools.json are not available here (it needs the NuGet feed; "
            + ".ci/run restores them before the tests):" + Environment.NewLine + transcript);
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

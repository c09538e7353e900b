using LcmLora.Cli;

return CliApp.Run(args);

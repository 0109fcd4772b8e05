hello = Hello { $name }
bye = Bye

DROP TABLE IF EXISTS user_presence;

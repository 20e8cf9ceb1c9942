DROP TABLE email_collisions;
